"""Freezes the model-hub rules look for: a whole model frozen (`X.requires_grad_(False)`, or a loop over
`X.parameters()` that clears every `requires_grad`), and loops over `named_parameters()` that freeze every
parameter whose name lacks a literal (`if "classifier" not in name: p.requires_grad = False`)."""

from __future__ import annotations

import dataclasses

from featlint.analysis.hub_order import Step
from featlint.analysis.hubs import HubObject, Hubs
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst


def whole_freezes(hubs: Hubs) -> list[WholeFreeze]:
    """Every `X.requires_grad_(False)`, and every loop whose only statement clears the `requires_grad` of
    each of `X.parameters()`."""
    found = []
    for site in hubs.facts.calls:
        func = site.node.func
        step = hubs.step(site.node)
        if step is None or not isinstance(func, cst.Attribute):
            continue
        if func.attr.value == "requires_grad_" and len(site.node.args) == 1:
            value = site.node.args[0].value
            if isinstance(value, cst.Name) and value.value == "False":
                found.append(WholeFreeze(site.node, func.value, site.scope, step))
    for scope in hubs.facts.scopes.values():
        for bindings in scope.bindings.values():
            for binding in bindings:
                loop = binding.node
                if binding.kind != "loop" or not isinstance(loop, cst.For) or not isinstance(loop.target, cst.Name):
                    continue
                iterated = loop.iter
                step = hubs.step(loop)
                if (step is not None and isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute)
                        and iterated.func.attr.value == "parameters" and not iterated.args
                        and _sets_requires_grad(loop.body, loop.target.value, "False")
                        and _only_statement(loop.body)):
                    found.append(WholeFreeze(loop, iterated.func.value, scope, step))
    return found

def name_filters(hubs: Hubs) -> list[NameFilter]:
    """Loops over `model.named_parameters()` that freeze every parameter whose name lacks a literal:
    `if "classifier" not in name: p.requires_grad = False`, or `p.requires_grad = "classifier" in name`."""
    found: dict[int, NameFilter] = {}
    for scope in hubs.facts.scopes.values():
        for bindings in scope.bindings.values():
            for binding in bindings:
                loop = binding.node
                if binding.kind == "loop" and isinstance(loop, cst.For) and id(loop) not in found:
                    spared = _spared_name(loop)
                    step = hubs.step(loop)
                    if spared is not None and step is not None:
                        model, literal, statement = spared
                        found[id(loop)] = NameFilter(loop, statement, literal, hubs.object_of(model, scope, step))
    return list(found.values())


@dataclasses.dataclass(frozen=True)
class WholeFreeze:
    """`X.requires_grad_(False)` or `for p in X.parameters(): p.requires_grad = False`: all of X frozen."""

    node: cst.CSTNode  # the call, or the loop
    receiver: cst.BaseExpression  # X
    scope: Scope
    step: Step


@dataclasses.dataclass(frozen=True)
class NameFilter:
    loop: cst.For
    statement: cst.CSTNode  # the `if` (or the assignment) that freezes
    spared: str  # parameters whose names contain it keep their requires_grad
    model: HubObject | None


def _spared_name(loop: cst.For) -> tuple[cst.BaseExpression, str, cst.CSTNode] | None:
    """For `for n, p in X.named_parameters():` whose body freezes every `p` whose `n` lacks a literal:
    (X, the literal, the freezing statement)."""
    iterated = loop.iter
    target = loop.target
    if not (isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute)
            and iterated.func.attr.value == "named_parameters" and isinstance(target, cst.Tuple)
            and len(target.elements) == 2 and all(isinstance(e.value, cst.Name) for e in target.elements)
            and isinstance(loop.body, cst.IndentedBlock)):
        return None
    name, param = (e.value.value for e in target.elements)  # type: ignore[attr-defined]
    for statement in loop.body.body:
        if isinstance(statement, cst.If) and statement.orelse is None:
            literal = _membership(statement.test, name, negated=True)
            if literal is not None and _sets_requires_grad(statement.body, param, "False"):
                return iterated.func.value, literal, statement
        if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
            assign = statement.body[0]
            if (isinstance(assign, cst.Assign) and len(assign.targets) == 1
                    and _is_requires_grad(assign.targets[0].target, param)):
                literal = _membership(assign.value, name, negated=False)
                if literal is not None:
                    return iterated.func.value, literal, statement
    return None


def _membership(test: cst.BaseExpression, name: str, *, negated: bool) -> str | None:
    """The literal of `"lit" not in name` (negated) or `"lit" in name`."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    target = test.comparisons[0]
    wanted = cst.NotIn if negated else cst.In
    if not (isinstance(target.operator, wanted) and isinstance(target.comparator, cst.Name)
            and target.comparator.value == name and isinstance(test.left, cst.SimpleString)):
        return None
    literal = test.left.evaluated_value
    return literal if isinstance(literal, str) else None


def _is_requires_grad(target: cst.BaseExpression, param: str) -> bool:
    return (isinstance(target, cst.Attribute) and target.attr.value == "requires_grad"
            and isinstance(target.value, cst.Name) and target.value.value == param)


def _only_statement(body: cst.BaseSuite) -> bool:
    lines = body.body if isinstance(body, cst.IndentedBlock) else (body,)
    return len(lines) == 1


def _sets_requires_grad(body: cst.BaseSuite, param: str, value: str) -> bool:
    lines = body.body if isinstance(body, cst.IndentedBlock) else (body,)
    for line in lines:
        if isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in line.body:
                if (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and _is_requires_grad(small.targets[0].target, param)
                        and isinstance(small.value, cst.Name) and small.value.value == value):
                    return True
    return False
