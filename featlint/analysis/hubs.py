"""The model-hub objects of a file (Hugging Face models and configs, PEFT wraps and configs, timm models)
and the order in which things happen to them.

The adapter rules (FL9xx) ask questions of order inside one function: was the optimizer built before
`get_peft_model`, which object does `model` hold at this line after `model = get_peft_model(model, cfg)`?
The flow-insensitive scopes cannot tell, so this analysis numbers every statement of the file in source
order and resolves a name to its latest binding before the place it is read, in the same scope. It is built
only for files that name one of these libraries (rules declare the tokens), and it answers UNKNOWN (None)
whenever a binding is conditional or comes from code featlint cannot see.
"""

from __future__ import annotations

import dataclasses
import enum

from featlint.analysis import hub_knowledge as hk
from featlint.analysis.calls import argument, bool_literal, keyword
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import Binding, ModuleFacts, Scope, child_nodes
from featlint.startup.deferred import cst

# Methods that return the module they are called on.
_SAME_OBJECT_METHODS = frozenset({"to", "cuda", "cpu", "train", "float", "half", "bfloat16", "double"})
_BRANCHES = ("If", "Else", "Try", "ExceptHandler", "ExceptStarHandler", "Match", "MatchCase", "IfExp")
_LOOPS = ("For", "While")
_SCOPES = ("FunctionDef", "ClassDef")
_OPTIMIZER_PREFIXES = ("torch.optim.", "transformers.", "bitsandbytes.optim.")
_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")


class HubKind(enum.Enum):
    HF_MODEL = "a Hugging Face model"
    HF_CONFIG = "a Hugging Face configuration"
    PEFT_MODEL = "a PEFT model"
    PEFT_CONFIG = "a PEFT configuration"
    TIMM_MODEL = "a timm model"


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


@dataclasses.dataclass(eq=False)
class HubObject:
    kind: HubKind
    call: cst.Call  # the call that creates it
    step: Step
    library_class: str  # AutoModelForSequenceClassification, LoraConfig, PeftModel, AutoConfig, ...
    how: str  # from_pretrained, from_config, constructor, get_peft_model, create_model
    wrapped: HubObject | None = None  # get_peft_model / PeftModel.from_pretrained: the base model
    config: HubObject | None = None  # get_peft_model: the PEFT config; from_config: the HF config

    @property
    def classification_task(self) -> str | None:
        return hk.hf_classification_task(self.library_class) if self.kind is HubKind.HF_MODEL else None


class Hubs:
    def __init__(self, module: cst.Module, facts: ModuleFacts, names: NameResolver) -> None:
        self.facts = facts
        self.names = names
        self._steps: dict[int, Step] = {}
        self._discarded: set[int] = set()
        self._count = 0
        self._walk(module, module, branch=False, loop=False, arms=())
        self._objects: dict[int, HubObject | None] = {}
        self.objects: list[HubObject] = []
        for site in facts.calls:
            found = self.created_by(site.node, site.scope)
            if found is not None and found.call is site.node:
                self.objects.append(found)

    # --- order ----------------------------------------------------------------------------------------
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

    # --- what an expression holds ----------------------------------------------------------------------
    def object_of(self, expr: cst.BaseExpression, scope: Scope, at: Step) -> HubObject | None:
        """The hub object `expr` holds when the statement at `at` runs; None when unknown."""
        if isinstance(expr, cst.Call):
            return self.created_by(expr, scope)
        if not isinstance(expr, cst.Name):
            return None
        binding = self._reaching(expr.value, scope, at)
        if binding is None or binding.kind != "assign" or binding.element or binding.value is None:
            return None
        bound_at = self.step(binding.node)
        return self.object_of(binding.value, binding.scope, bound_at) if bound_at is not None else None

    def _reaching(self, name: str, scope: Scope, at: Step) -> Binding | None:
        """The binding of `name` that the statement at `at` reads: the latest one before it in the same
        function, when that binding runs on every path; the only one when the name comes from outside."""
        bindings = scope.lookup(name)
        local = [(self.step(b.node), b) for b in bindings if b.scope is scope]
        if not local:
            return bindings[0] if len(bindings) == 1 else None
        before = [(s, b) for s, b in local if s is not None and s.order < at.order]
        if not before:
            return None
        step, binding = max(before, key=lambda pair: pair[0].order)
        return binding if at.sees(step) else None

    def created_by(self, call: cst.Call, scope: Scope) -> HubObject | None:
        if id(call) in self._objects:
            return self._objects[id(call)]
        self._objects[id(call)] = None  # a cycle through `m = m.to(d)` resolves to nothing
        found = self._create(call, scope)
        self._objects[id(call)] = found
        return found

    def _create(self, call: cst.Call, scope: Scope) -> HubObject | None:
        step = self.step(call)
        if step is None:
            return None
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SAME_OBJECT_METHODS:
            inner = self.object_of(func.value, scope, step)
            if inner is not None and inner.kind in (HubKind.HF_MODEL, HubKind.PEFT_MODEL, HubKind.TIMM_MODEL):
                return inner
        name = self.names.call_name(call, scope)
        if name is None:
            return None
        library, _, rest = name.partition(".")
        parts = rest.split(".")
        if library == "transformers" and parts:
            return self._transformers(call, scope, step, parts)
        if library == "peft" and parts:
            return self._peft(call, scope, step, parts)
        if name == "timm.create_model":
            return HubObject(HubKind.TIMM_MODEL, call, step, "timm", "create_model")
        return None

    def _transformers(self, call: cst.Call, scope: Scope, step: Step, parts: list[str]) -> HubObject | None:
        method = parts[-1] if len(parts) >= 2 and not parts[-1][:1].isupper() else None
        klass = parts[-2] if method else parts[-1]
        if klass.endswith("Config") and method == "from_pretrained":
            return HubObject(HubKind.HF_CONFIG, call, step, klass, method)
        if not hk.is_hf_model_class(klass):
            return None
        if method in ("from_pretrained", "from_config"):
            config = None
            if method == "from_config":
                given = argument(call, 0, "config")
                config = self.object_of(given, scope, step) if given is not None else None
            return HubObject(HubKind.HF_MODEL, call, step, klass, method, config=config)
        if method is None and not klass.startswith("Auto"):
            given = argument(call, 0, "config")
            config = self.object_of(given, scope, step) if given is not None else None
            return HubObject(HubKind.HF_MODEL, call, step, klass, "constructor", config=config)
        return None

    def _peft(self, call: cst.Call, scope: Scope, step: Step, parts: list[str]) -> HubObject | None:
        last = parts[-1]
        if last == "get_peft_model":
            base, config = argument(call, 0, "model"), argument(call, 1, "peft_config")
            return HubObject(
                HubKind.PEFT_MODEL, call, step, "PeftModel", last,
                wrapped=self.object_of(base, scope, step) if base is not None else None,
                config=self.object_of(config, scope, step) if config is not None else None,
            )
        if last == "from_pretrained" and len(parts) >= 2 and "PeftModel" in parts[-2]:
            base = argument(call, 0, "model")
            return HubObject(HubKind.PEFT_MODEL, call, step, parts[-2], last,
                             wrapped=self.object_of(base, scope, step) if base is not None else None)
        if hk.is_peft_config_with_modules_to_save(last):
            return HubObject(HubKind.PEFT_CONFIG, call, step, last, "constructor")
        return None

    # --- questions rules ask -----------------------------------------------------------------------------
    def is_optimizer(self, call: cst.Call, scope: Scope) -> bool:
        """A torch.optim (or transformers / bitsandbytes) optimizer class is constructed here."""
        name = self.names.call_name(call, scope)
        if name is None or not name.startswith(_OPTIMIZER_PREFIXES) or name.startswith(_NOT_OPTIMIZERS):
            return False
        last = name.rsplit(".", 1)[-1]
        if name.startswith("torch.optim."):
            return last[:1].isupper() and last != "Optimizer"
        return last in ("AdamW", "Adafactor") or name.startswith("bitsandbytes.optim.")

    def parameters_of(self, call: cst.Call) -> list[cst.Name]:
        """The names whose `.parameters()` / `.named_parameters()` the call's arguments read."""
        found: list[cst.Name] = []

        def visit(node: cst.CSTNode) -> None:
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                if node.func.attr.value in ("parameters", "named_parameters") and isinstance(node.func.value, cst.Name):
                    found.append(node.func.value)
            for child in child_nodes(node):
                visit(child)

        for arg in call.args:
            visit(arg.value)
        return found

    def peft_model_trainable(self, peft: HubObject) -> bool | None:
        """For `PeftModel.from_pretrained(...)`: whether `is_trainable=True` was passed (None: unknown)."""
        if any(arg.star for arg in peft.call.args):
            return None
        found = keyword(peft.call, "is_trainable")
        if found is None:
            return False
        return bool_literal(found.value)

    def whole_freezes(self) -> list[WholeFreeze]:
        found = []
        for site in self.facts.calls:
            func = site.node.func
            step = self.step(site.node)
            if step is None or not isinstance(func, cst.Attribute):
                continue
            if func.attr.value == "requires_grad_" and len(site.node.args) == 1:
                value = site.node.args[0].value
                if isinstance(value, cst.Name) and value.value == "False":
                    found.append(WholeFreeze(site.node, func.value, site.scope, step))
        for scope in self.facts.scopes.values():
            for bindings in scope.bindings.values():
                for binding in bindings:
                    loop = binding.node
                    if binding.kind != "loop" or not isinstance(loop, cst.For) or not isinstance(loop.target, cst.Name):
                        continue
                    iterated = loop.iter
                    step = self.step(loop)
                    if (step is not None and isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Attribute)
                            and iterated.func.attr.value == "parameters" and not iterated.args
                            and _sets_requires_grad(loop.body, loop.target.value, "False")
                            and _only_statement(loop.body)):
                        found.append(WholeFreeze(loop, iterated.func.value, scope, step))
        return found

    def name_filters(self) -> list[NameFilter]:
        """Loops over `model.named_parameters()` that freeze every parameter whose name lacks a literal:
        `if "classifier" not in name: p.requires_grad = False`, or `p.requires_grad = "classifier" in name`."""
        found: dict[int, NameFilter] = {}
        for scope in self.facts.scopes.values():
            for bindings in scope.bindings.values():
                for binding in bindings:
                    loop = binding.node
                    if binding.kind == "loop" and isinstance(loop, cst.For) and id(loop) not in found:
                        spared = _spared_name(loop)
                        step = self.step(loop)
                        if spared is not None and step is not None:
                            model, literal, statement = spared
                            found[id(loop)] = NameFilter(loop, statement, literal, self.object_of(model, scope, step))
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
