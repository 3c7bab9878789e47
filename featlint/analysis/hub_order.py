"""The order of a file's statements, for the model-hub rules' questions of order inside one function.

Was the optimizer built before `get_peft_model`? Which object does `model` hold at this line after
`model = get_peft_model(model, cfg)`? The flow-insensitive scopes cannot tell, so this numbers every
statement of the file in source order, notes the branches and loops around it, and resolves a name to its
latest binding before the place it is read, in the same scope: UNKNOWN (None) whenever that binding is
conditional for the reader.
"""

from __future__ import annotations

import dataclasses

from featlint.analysis.scopes import Binding, ModuleFacts, Scope, child_nodes
from featlint.startup.deferred import cst

_BRANCHES = ("If", "Else", "Try", "ExceptHandler", "ExceptStarHandler", "Match", "MatchCase", "IfExp")
_LOOPS = ("For", "While")
_SCOPES = ("FunctionDef", "ClassDef")


@dataclasses.dataclass(frozen=True)
class Step:
    """Where a statement sits: its rank in source order, the function (or module) whose body holds it, and
    whether it runs only on some paths (a branch) or repeatedly (a loop). `arms`: the arms of the branches
    around it in its function, outermost first (an `if`'s body and its `else` are different arms)."""

    order: int
    owner: cst.CSTNode
    branch: bool
    loop: bool
    arms: tuple[int, ...] = ()

    def sees(self, binding: Step) -> bool:
        """Whether a binding made at `binding` is certainly in force here, as far as branches go: it is in
        no branch, or in an arm that holds this statement too (not the `if` body when this is its `else`)."""
        return self.arms[:len(binding.arms)] == binding.arms


class StatementOrder:
    """Every statement of a file numbered in source order, with the function, branches and loops around it."""

    def __init__(self, module: cst.Module, facts: ModuleFacts) -> None:
        self.facts = facts
        self._steps: dict[int, Step] = {}
        self._discarded: set[int] = set()
        self._count = 0
        self._walk(module, module, branch=False, loop=False, arms=())

    def _walk(self, node: cst.CSTNode, owner: cst.CSTNode, *, branch: bool, loop: bool, arms: tuple[int, ...]) -> None:
        kind = type(node).__name__
        if isinstance(node, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            self._count += 1
        self._steps[id(node)] = Step(self._count, owner, branch, loop, arms)
        if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
            self._discarded.add(id(node.value))
        if kind in _SCOPES:
            owner, branch, loop, arms = node, False, False, ()
        forks = kind in _BRANCHES
        branch = branch or forks
        loop = loop or kind in _LOOPS
        for child in child_nodes(node):
            self._walk(child, owner, branch=branch, loop=loop, arms=(*arms, id(child)) if forks else arms)

    def step(self, node: cst.CSTNode) -> Step | None:
        return self._steps.get(id(node))

    def scope_of(self, call: cst.Call) -> Scope | None:
        """The scope a call of the file is made in."""
        return self.facts.scope_of_call(call)

    def discarded(self, call: cst.Call) -> bool:
        """Whether the call is a statement of its own: its result is thrown away."""
        return id(call) in self._discarded

    def later_calls(self, after: Step, method: str) -> list[tuple[cst.Call, Scope]]:
        """Calls of `<something>.method(...)` in the same function as `after`, after it."""
        found = []
        for site in self.facts.calls:
            func = site.node.func
            if isinstance(func, cst.Attribute) and func.attr.value == method:
                step = self.step(site.node)
                if step is not None and step.owner is after.owner and step.order > after.order:
                    found.append((site.node, site.scope))
        return found

    def rebound_between(self, expr: cst.BaseExpression, scope: Scope, start: Step, end: Step | None) -> bool:
        """Whether the name at the root of `expr` may be bound again between two statements (unknown: True)."""
        while isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        if not isinstance(expr, cst.Name) or end is None:
            return True
        steps = [self.step(b.node) for b in scope.lookup(expr.value) if b.scope is scope]
        return any(s is None or start.order < s.order < end.order for s in steps)

    def reaching(self, name: str, scope: Scope, at: Step) -> Binding | None:
        """The binding of `name` that the statement at `at` reads: the latest one before it in the same
        function, when that binding runs on every path to it; the only one when the name comes from outside."""
        bindings = scope.lookup(name)
        local = [(self.step(b.node), b) for b in bindings if b.scope is scope]
        if not local:
            return bindings[0] if len(bindings) == 1 else None
        before = [(s, b) for s, b in local if s is not None and s.order < at.order]
        if not before:
            return None
        step, binding = max(before, key=lambda pair: pair[0].order)
        return binding if at.sees(step) else None
