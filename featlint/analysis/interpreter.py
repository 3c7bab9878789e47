"""The abstract interpreter that writes the model story (see :mod:`featlint.analysis.story`).

It executes the file's statements in order over abstract values (a model and a path inside it, the
parameters of a module, an optimizer, a loss tensor...), records an event for everything that matters to
training, and steps into the file's own functions and classes where they are called. Anything it cannot
follow becomes "unknown" and records nothing: rules only ever see what the interpreter is sure of.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from featlint.analysis import calls
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, Scope, element_of, method_of
from featlint.analysis.story import (
    Event,
    EventKind,
    Group,
    Model,
    Optimizer,
    Params,
    Path,
    Story,
)
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst

MAX_DEPTH = 4  # nested calls into the file's own functions
_TORCH_ROOTS = ("torch", "torchvision", "timm", "lightning", "pytorch_lightning")
_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")
_WRAPPERS = frozenset({
    "torch.nn.DataParallel", "torch.nn.parallel.DataParallel", "torch.nn.parallel.DistributedDataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel", "torch.nn.parallel.data_parallel.DataParallel",
})
_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                      "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"})
_CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.sorted", "builtins.sum",
                        "builtins.any", "builtins.all", "builtins.max", "builtins.min", "builtins.dict"})
_COPIES = frozenset({"builtins.list", "builtins.tuple", "builtins.sorted"})
# Functions that may receive a model without changing what trains or what the optimizer holds.
_HARMLESS = frozenset({
    "builtins.print", "builtins.len", "builtins.isinstance", "builtins.type", "builtins.id", "builtins.repr",
    "builtins.str", "builtins.hasattr", "builtins.getattr", "builtins.format", "torch.save", "torch.onnx.export",
    "torchinfo.summary", "torchsummary.summary", "copy.deepcopy",
})
_RETURNS_SELF = frozenset({"half", "float", "double", "bfloat16", "type", "share_memory", "cpu"})
_TENSOR_METHODS = frozenset({"mean", "sum", "float", "double", "half", "squeeze", "to", "cuda", "clone"})
_PARAM_ATTRIBUTES = frozenset({"weight", "bias"})


# --- abstract values ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Ref:
    """A model, or the submodule at `path` inside it."""

    model: Model
    path: Path = ()
    partial: bool = False  # some of the submodules under `path`, not all (a slice, an unknown index)


@dataclasses.dataclass(eq=False)
class ParamsValue:
    params: Params
    generator: bool  # a one-shot iterator (`parameters()`, `filter(...)`, a generator expression)
    named: bool = False  # yields (name, parameter) pairs
    consumed: cst.CSTNode | None = None


@dataclasses.dataclass(frozen=True)
class MultiParams:
    items: tuple[ParamsValue, ...]


@dataclasses.dataclass(eq=False)
class ParamList:
    """A list that the script fills with parameters (`params.append(p)`)."""

    items: list[Params] = dataclasses.field(default_factory=list)
    unknown: bool = False


@dataclasses.dataclass(frozen=True)
class ModuleIter:
    ref: Ref
    named: bool


@dataclasses.dataclass(frozen=True)
class ParamVar:
    """The loop variable of `for p in model.parameters()`."""

    params: Params
    depth: int  # how many conditions enclosed the loop


@dataclasses.dataclass(frozen=True)
class ModuleVar:
    """The loop variable of `for m in model.children()` / `modules()`."""

    ref: Ref
    depth: int


@dataclasses.dataclass(frozen=True)
class Layer:
    node: cst.CSTNode
    on_device: bool
    params: bool = True  # False for layers without parameters (Identity, Dropout, activations, pooling)


@dataclasses.dataclass(frozen=True)
class Criterion:
    node: cst.CSTNode


@dataclasses.dataclass(frozen=True)
class Tensor:
    loss: bool
    grad_disabled: bool


@dataclasses.dataclass(eq=False)
class Namespace:
    """An instance of one of the file's own classes that is not a module (a trainer, a config)."""

    cls: cst.ClassDef
    attrs: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FunctionRef:
    """One of the file's own functions or classes; `bound` is the instance a method was looked up on."""

    node: cst.FunctionDef | cst.ClassDef
    bound: object = None


@dataclasses.dataclass(frozen=True)
class TupleValue:
    items: tuple[object, ...]


@dataclasses.dataclass(frozen=True)
class DictValue:
    items: tuple[tuple[str, cst.BaseExpression, object], ...]


@dataclasses.dataclass(frozen=True)
class Enumerated:
    inner: object


@dataclasses.dataclass(eq=False)
class Frame:
    scope: Scope
    env: dict[str, object]
    tests: list[cst.BaseExpression | None] = dataclasses.field(default_factory=list)
    inherited_condition: bool = False
    loops: tuple[cst.CSTNode, ...] = ()
    no_grad: bool = False
    depth: int = 0
    returned: list[object] = dataclasses.field(default_factory=list)

    @property
    def conditional(self) -> bool:
        return self.inherited_condition or bool(self.tests)


def _code_mentions(module: cst.Module, node: cst.CSTNode | None, word: str) -> bool:
    return node is not None and word in module.code_for_node(node)


class Interpreter:
    def __init__(self, module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer) -> None:
        self.module = module
        self.facts = facts
        self.names = names
        self.values = values
        self.events: list[Event] = []
        self.models: list[Model] = []
        self.optimizers: list[Optimizer] = []
        self.reached: set[cst.FunctionDef] = set()
        self._active: list[cst.FunctionDef] = []
        self._discarded: cst.BaseExpression | None = None
        self._budget = 0
        self.module_frame = Frame(facts.module_scope, {})

    # --- entry ------------------------------------------------------------------------------------------
    def run(self) -> Story:
        if not self._uses_torch():
            return Story([], [], [])
        self._budget = 40 * max(1, len(self.facts.calls)) + 2000
        self._block(self.module.body, self.module_frame)
        for node, scope in list(self.facts.scopes.items()):
            if isinstance(node, cst.FunctionDef) and node not in self.reached and self._budget > 0:
                self._standalone(node, scope)
        return Story(self.events, self.models, self.optimizers)

    def _uses_torch(self) -> bool:
        for scope in self.facts.scopes.values():
            for bindings in scope.bindings.values():
                for binding in bindings:
                    if binding.kind == "import" and (binding.qualified or "").split(".")[0] in _TORCH_ROOTS:
                        return True
        return any(module.split(".")[0] in _TORCH_ROOTS for module in self.facts.star_imports)

    def _standalone(self, node: cst.FunctionDef, scope: Scope) -> None:
        """A function nobody calls in this file: its parameters are models we know nothing about."""
        self.reached.add(node)
        env: dict[str, object] = {}
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        for index, param in enumerate(params):
            name = param.name.value
            if index == 0 and scope.owner_class is not None:
                env[name] = self._instance(scope.owner_class, node)
            elif param.default is None:
                env[name] = Ref(self._model(param, from_parameter=True))
        frame = Frame(scope, env, no_grad=self._no_grad_decorated(node))
        self._block(node.body, frame)

    def _instance(self, cls: cst.ClassDef, node: cst.CSTNode) -> object:
        if self.values.is_module_class(cls):
            return Ref(self._model(node, user_class=cls))
        return Namespace(cls)

    # --- recording ----------------------------------------------------------------------------------------
    def _model(self, node: cst.CSTNode, **fields: object) -> Model:
        model = Model(node, **fields)  # type: ignore[arg-type]
        self.models.append(model)
        return model

    def _event(
        self, kind: EventKind, node: cst.CSTNode, frame: Frame, ref: Ref | None = None,
        conditional: bool | None = None, **fields: object,
    ) -> Event:
        event = Event(
            kind, len(self.events), node,
            model=ref.model if ref is not None else None,
            path=ref.path if ref is not None else (),
            conditional=frame.conditional if conditional is None else conditional,
            loops=frame.loops,
            module_level=frame.scope is self.facts.module_scope,
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        return event

    # --- statements -------------------------------------------------------------------------------------
    def _block(self, body: Sequence[cst.CSTNode] | cst.BaseSuite, frame: Frame) -> None:
        if isinstance(body, cst.IndentedBlock):
            statements: Sequence[cst.CSTNode] = body.body
        elif isinstance(body, cst.SimpleStatementSuite):
            statements = body.body
        elif isinstance(body, cst.BaseSuite):
            statements = ()
        else:
            statements = body
        for statement in statements:
            if self._budget <= 0:
                return
            self._budget -= 1
            self._statement(statement, frame)

    def _statement(self, node: cst.CSTNode, frame: Frame) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self._small(small, frame)
        elif isinstance(node, cst.BaseSmallStatement):
            self._small(node, frame)
        elif isinstance(node, cst.If):
            self._if(node, frame)
        elif isinstance(node, cst.For):
            self._for(node, frame)
        elif isinstance(node, cst.While):
            self._eval(node.test, frame)
            self._loop_body(node, node.body, frame, conditional=True)
        elif isinstance(node, cst.With):
            self._with(node, frame)
        elif isinstance(node, cst.Try):
            self._block(node.body, frame)
            for handler in node.handlers:
                frame.tests.append(None)
                self._block(handler.body, frame)
                frame.tests.pop()
            if node.orelse is not None:
                self._block(node.orelse.body, frame)
            if node.finalbody is not None:
                self._block(node.finalbody.body, frame)
        elif isinstance(node, cst.Match):
            self._eval(node.subject, frame)
            for case in node.cases:
                frame.tests.append(None)
                self._block(case.body, frame)
                frame.tests.pop()

    def _small(self, node: cst.BaseSmallStatement, frame: Frame) -> None:
        if isinstance(node, cst.Expr):
            self._discarded = node.value
            self._eval(node.value, frame)
        elif isinstance(node, cst.Assign):
            if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and node.targets[0].target.value == "_":
                self._discarded = node.value
            value = self._eval(node.value, frame)
            for target in node.targets:
                self._assign(target.target, value, node.value, frame)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            self._assign(node.target, self._eval(node.value, frame), node.value, frame)
        elif isinstance(node, cst.AugAssign):
            value = self._eval(node.value, frame)
            if isinstance(node.target, cst.Name):
                current = frame.env.get(node.target.value)
                frame.env[node.target.value] = (
                    current if isinstance(current, Tensor) and isinstance(value, Tensor) else None
                )
        elif isinstance(node, cst.Return) and node.value is not None:
            frame.returned.append(self._eval(node.value, frame))

    def _if(self, node: cst.If, frame: Frame) -> None:
        if self._is_main_guard(node.test):
            self._block(node.body, frame)
            return
        self._eval(node.test, frame)
        before = dict(frame.env)
        frame.tests.append(node.test)
        self._block(node.body, frame)
        after_body = frame.env
        frame.env = dict(before)
        if isinstance(node.orelse, cst.If):
            self._if(node.orelse, frame)
        elif isinstance(node.orelse, cst.Else):
            self._block(node.orelse.body, frame)
        frame.tests.pop()
        after_else = frame.env
        merged = {k: v for k, v in after_body.items() if k in after_else and after_else[k] is v}
        frame.env = merged

    @staticmethod
    def _is_main_guard(test: cst.BaseExpression) -> bool:
        return (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and test.left.value == "__name__"
            and len(test.comparisons) == 1
            and calls.string_literal(test.comparisons[0].comparator) == "__main__"
        )

    def _for(self, node: cst.For, frame: Frame) -> None:
        iterable = self._eval(node.iter, frame)
        if isinstance(iterable, ParamsValue) and iterable.generator:
            self._consume(iterable, node.iter)
        self._bind_loop_target(node.target, iterable, frame)
        self._loop_body(node, node.body, frame, conditional=False)
        if node.orelse is not None:
            frame.tests.append(None)
            self._block(node.orelse.body, frame)
            frame.tests.pop()

    def _loop_body(self, loop: cst.CSTNode, body: cst.BaseSuite, frame: Frame, *, conditional: bool) -> None:
        saved = frame.loops
        frame.loops = (*saved, loop)
        if conditional:
            frame.tests.append(None)
        self._block(body, frame)
        if conditional:
            frame.tests.pop()
        frame.loops = saved

    def _bind_loop_target(self, target: cst.BaseExpression, iterable: object, frame: Frame) -> None:
        depth = len(frame.tests)
        element: object = None
        if isinstance(iterable, Enumerated):
            if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                self._assign(target.elements[0].value, None, None, frame)
                self._bind_loop_target(target.elements[1].value, iterable.inner, frame)
                return
        elif isinstance(iterable, ParamsValue):
            element = ParamVar(iterable.params, depth)
            if iterable.named:
                element = TupleValue((None, element))
        elif isinstance(iterable, ModuleIter):
            element = ModuleVar(iterable.ref, depth)
            if iterable.named:
                element = TupleValue((None, element))
        self._assign(target, element, None, frame)

    def _with(self, node: cst.With, frame: Frame) -> None:
        saved = frame.no_grad
        for item in node.items:
            grad = self._grad_context(item.item, frame)
            if grad is None:
                self._eval(item.item, frame)
            else:
                frame.no_grad = grad
            if item.asname is not None:
                self._assign(item.asname.name, None, None, frame)
        self._block(node.body, frame)
        frame.no_grad = saved

    def _grad_context(self, expr: cst.BaseExpression, frame: Frame) -> bool | None:
        """True/False for a context that disables/enables gradients, None for any other context."""
        if not isinstance(expr, cst.Call):
            return None
        name = self.names.call_name(expr, frame.scope)
        if name in _NO_GRAD:
            return True
        if name in ("torch.set_grad_enabled", "torch.enable_grad"):
            if name == "torch.enable_grad":
                return False
            flag = calls.bool_literal(expr.args[0].value) if expr.args else None
            return None if flag is None else not flag
        return None

    def _no_grad_decorated(self, node: cst.FunctionDef) -> bool:
        scope = self.facts.module_scope
        for decorator in node.decorators:
            expr = decorator.decorator
            target = expr.func if isinstance(expr, cst.Call) else expr
            if self.names.qualified_name(target, scope) in _NO_GRAD:
                return True
        return False

    # --- assignment -------------------------------------------------------------------------------------
    def _assign(self, target: cst.BaseExpression, value: object, value_node: cst.BaseExpression | None, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            frame.env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if isinstance(value, TupleValue) and len(value.items) == len(target.elements) else None
            for index, element in enumerate(target.elements):
                part = items[index] if items is not None else None
                inner = element_of(value_node, (index,))
                self._assign(element.value, part, inner, frame)
        elif isinstance(target, cst.Attribute):
            self._store(target, target.value, target.attr.value, value, value_node, frame)
        elif isinstance(target, cst.Subscript):
            index = _index(target)
            if index is not None:
                self._store(target, target.value, index, value, value_node, frame)

    def _store(
        self, target: cst.BaseExpression, owner_node: cst.BaseExpression, attr: str, value: object,
        value_node: cst.BaseExpression | None, frame: Frame,
    ) -> None:
        owner = self._eval(owner_node, frame)
        if attr == "requires_grad":
            self._requires_grad(target, owner, owner_node, calls.bool_literal(value_node), frame)
            return
        if isinstance(owner, Namespace):
            owner.attrs[attr] = value
            return
        if not isinstance(owner, Ref) or value_node is None:
            return
        is_model = isinstance(value, Ref) and value.path == ()
        if not (isinstance(value, Layer) or is_model):
            return
        if owner.model.wrapped is not None:
            self._event(EventKind.WRAPPER_ASSIGN, target, frame, owner, layer=value_node)
            return
        path = (*owner.path, attr)
        fresh = isinstance(value, Layer) and value.params
        self._event(
            EventKind.HEAD, target, frame, Ref(owner.model, path), layer=value_node,
            on_device=isinstance(value, Layer) and value.on_device, fresh=fresh, has_params=fresh or is_model,
        )
        if isinstance(value, Ref) and value.model is not owner.model and value.model.home is None:
            value.model.home = (owner.model, path)

    def _requires_grad(
        self, node: cst.CSTNode, owner: object, owner_node: cst.BaseExpression, flag: bool | None, frame: Frame
    ) -> None:
        if isinstance(owner, ParamVar):
            self._freeze_params(node, owner.params, owner.depth, flag, frame)
        elif isinstance(owner, Ref) and owner.path and owner.path[-1] in _PARAM_ATTRIBUTES:
            self._event(EventKind.FREEZE, node, frame, owner, value=flag, partial=owner.partial)
        elif isinstance(owner, Tensor) and owner.loss:
            self._event(EventKind.LOSS_PATCH, node, frame)
        elif (owner is None or isinstance(owner, Tensor)) and _named_loss(owner_node):
            self._event(EventKind.LOSS_PATCH, node, frame)

    def _freeze_params(self, node: cst.CSTNode, params: Params, depth: int, flag: bool | None, frame: Frame) -> None:
        conditions = frame.tests[depth:]
        selector = next((t for t in reversed(conditions) if t is not None), None) or params.selector
        # Conditions inside the loop select parameters (a partial freeze); only those around it may not run.
        self._event(
            EventKind.FREEZE, node, frame, Ref(params.model, params.path), value=flag,
            partial=params.partial or bool(conditions), selector=selector,
            conditional=frame.inherited_condition or bool(frame.tests[:depth]),
        )

    # --- expressions ------------------------------------------------------------------------------------
    def _eval(self, expr: cst.BaseExpression | None, frame: Frame) -> object:
        if expr is None:
            return None
        if isinstance(expr, cst.Name):
            return self._lookup(expr.value, frame)
        if isinstance(expr, cst.Attribute):
            return self._attribute(self._eval(expr.value, frame), expr.attr.value)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, frame)
        if isinstance(expr, cst.Call):
            return self._call(expr, frame)
        if isinstance(expr, (cst.Tuple, cst.List)):
            items = tuple(self._eval(e.value, frame) for e in expr.elements)
            if isinstance(expr, cst.List) and not items:
                return ParamList()
            return TupleValue(items)
        if isinstance(expr, cst.Dict):
            entries = []
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    key = calls.string_literal(element.key)
                    entries.append((key or "", element.value, self._eval(element.value, frame)))
            return DictValue(tuple(entries))
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self._comprehension(expr, frame)
        if isinstance(expr, cst.BinaryOperation):
            left, right = self._eval(expr.left, frame), self._eval(expr.right, frame)
            if isinstance(left, Tensor) or isinstance(right, Tensor):
                grad_disabled = any(isinstance(v, Tensor) and v.grad_disabled for v in (left, right)) or frame.no_grad
                return Tensor(any(isinstance(v, Tensor) and v.loss for v in (left, right)), grad_disabled)
            if isinstance(expr.operator, cst.Add):
                parts = [_as_params(v) for v in (left, right)]
                if all(p is not None for p in parts):
                    return MultiParams(tuple(item for p in parts for item in p))  # type: ignore[union-attr]
            return None
        if isinstance(expr, (cst.BooleanOperation, cst.Comparison, cst.UnaryOperation, cst.IfExp, cst.FormattedString)):
            for child in expr.children:
                if isinstance(child, cst.BaseExpression):
                    self._eval(child, frame)
            return None
        if isinstance(expr, cst.NamedExpr):
            value = self._eval(expr.value, frame)
            self._assign(expr.target, value, expr.value, frame)
            return value
        if isinstance(expr, cst.Await):
            return self._eval(expr.expression, frame)
        return None

    def _lookup(self, name: str, frame: Frame) -> object:
        if name in frame.env:
            return frame.env[name]
        if frame.scope.kind != "module" and name not in frame.scope.bindings:
            if name in self.module_frame.env:
                return self.module_frame.env[name]
        bindings = frame.scope.lookup(name)
        if len(bindings) == 1 and isinstance(bindings[0].node, (cst.FunctionDef, cst.ClassDef)):
            return FunctionRef(bindings[0].node)
        return None

    def _attribute(self, owner: object, attr: str) -> object:
        if isinstance(owner, Ref):
            if owner.model.wrapped is not None:
                return Ref(owner.model.wrapped, owner.path) if attr == "module" and not owner.path else None
            if owner.model.user_class is not None and not owner.path:
                method = method_of(owner.model.user_class, attr)
                if method is not None:
                    return FunctionRef(method, owner)
            return Ref(owner.model, (*owner.path, attr), owner.partial)
        if isinstance(owner, Namespace):
            if attr in owner.attrs:
                return owner.attrs[attr]
            method = method_of(owner.cls, attr)
            return FunctionRef(method, owner) if method is not None else None
        if isinstance(owner, ModuleVar) and attr in _PARAM_ATTRIBUTES:
            return Ref(owner.ref.model, owner.ref.path, partial=True)
        return None

    def _subscript(self, expr: cst.Subscript, frame: Frame) -> object:
        owner = self._eval(expr.value, frame)
        for element in expr.slice:
            if isinstance(element.slice, cst.Index):
                self._eval(element.slice.value, frame)
        index = _index(expr)
        sliced = len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice)
        if isinstance(owner, Ref):
            if owner.model.wrapped is not None:
                return None
            if index is not None:
                return Ref(owner.model, (*owner.path, index), owner.partial)
            return Ref(owner.model, owner.path, partial=True)
        if isinstance(owner, ModuleIter) and sliced:
            return ModuleIter(Ref(owner.ref.model, owner.ref.path, partial=True), owner.named)
        if isinstance(owner, ModuleIter):
            return Ref(owner.ref.model, owner.ref.path, partial=True)
        if isinstance(owner, ParamsValue) and sliced:
            return ParamsValue(dataclasses.replace(owner.params, partial=True), generator=False, named=owner.named)
        if isinstance(owner, TupleValue) and index is not None and index.lstrip("-").isdigit():
            position = int(index)
            if -len(owner.items) <= position < len(owner.items):
                return owner.items[position]
        if isinstance(owner, DictValue) and index is not None:
            return next((value for key, _, value in owner.items if key == index), None)
        return None

    def _comprehension(self, expr: cst.ListComp | cst.GeneratorExp | cst.SetComp, frame: Frame) -> object:
        source = self._eval(expr.for_in.iter, frame)
        if isinstance(source, ParamsValue) and source.generator:
            self._consume(source, expr.for_in.iter)
        if not isinstance(source, ParamsValue) or expr.for_in.inner_for_in is not None:
            return None
        conditions = list(expr.for_in.ifs)
        filtered = any(_code_mentions(self.module, c.test, "requires_grad") for c in conditions)
        other = [c.test for c in conditions if not _code_mentions(self.module, c.test, "requires_grad")]
        params = dataclasses.replace(
            source.params, filtered=source.params.filtered or filtered,
            partial=source.params.partial or bool(other), node=expr,
            selector=other[0] if other else source.params.selector,
        )
        return ParamsValue(params, generator=isinstance(expr, cst.GeneratorExp))

    def _consume(self, value: ParamsValue, node: cst.CSTNode) -> None:
        if value.consumed is None:
            value.consumed = node

    # --- calls ------------------------------------------------------------------------------------------
    def _call(self, call: cst.Call, frame: Frame) -> object:
        discarded = self._discarded is call
        self._discarded = None
        func = call.func
        if isinstance(func, cst.Attribute):
            receiver = self._eval(func.value, frame)
            bound = self._attribute(receiver, func.attr.value) if isinstance(receiver, (Ref, Namespace)) else None
            args = self._args(call, frame)
            if isinstance(bound, FunctionRef):
                return self._invoke(bound, call, args, frame)
            handled = self._method(call, receiver, func.attr.value, args, frame, discarded)
            if handled is not _UNHANDLED:
                return handled
        else:
            callee = self._eval(func, frame)
            args = self._args(call, frame)
            if isinstance(callee, FunctionRef):
                return self._invoke(callee, call, args, frame)
            if isinstance(callee, (Criterion, Ref)):
                return Tensor(isinstance(callee, Criterion), frame.no_grad)
        name = self.names.call_name(call, frame.scope)
        if name is not None:
            return self._named_call(call, name, args, frame)
        self._escape(call, args, frame)
        return None

    def _args(self, call: cst.Call, frame: Frame) -> list[object]:
        return [self._eval(arg.value, frame) for arg in call.args]

    def _arg(self, call: cst.Call, args: list[object], index: int, keyword: str) -> tuple[cst.BaseExpression | None, object]:
        for position, arg in enumerate(call.args):
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value, args[position]
        positional = [(a.value, v) for a, v in zip(call.args, args) if a.keyword is None and not a.star]
        return positional[index] if len(positional) > index else (None, None)

    def _escape(self, call: cst.Call, args: list[object], frame: Frame) -> None:
        for arg, value in zip(call.args, args):
            if isinstance(value, Ref):
                self._event(EventKind.ESCAPE, call, frame, Ref(value.model))
            elif isinstance(value, Optimizer):
                self._event(EventKind.ESCAPE, call, frame, optimizer=value)
            elif isinstance(value, ParamsValue):
                self._event(EventKind.ESCAPE, call, frame, Ref(value.params.model))
            del arg

    def _method(
        self, call: cst.Call, receiver: object, method: str, args: list[object], frame: Frame, discarded: bool
    ) -> object:
        if isinstance(receiver, Ref):
            return self._model_method(call, receiver, method, args, frame, discarded)
        if isinstance(receiver, Optimizer):
            if method == "add_param_group" and args:
                group = self._groups(call.args[0].value, args[0], None, call, frame)
                held = tuple(p for g in group for p in (g.params or ()))
                self._event(EventKind.ADD_GROUP, call, frame, optimizer=receiver, params=held)
            elif method == "step":
                self._event(EventKind.STEP, call, frame, optimizer=receiver)
            return None
        if isinstance(receiver, ParamVar) and method == "requires_grad_":
            flag = calls.bool_literal(call.args[0].value) if call.args else True
            self._freeze_params(call, receiver.params, receiver.depth, flag, frame)
            return None
        if isinstance(receiver, ModuleVar):
            # Every child (or module) in turn: together they cover the whole path unless sliced or selected.
            ref = Ref(receiver.ref.model, receiver.ref.path, partial=True)
            if method == "requires_grad_":
                flag = calls.bool_literal(call.args[0].value) if call.args else True
                params = Params(ref.model, ref.path, partial=receiver.ref.partial)
                self._freeze_params(call, params, receiver.depth, flag, frame)
                return None
            if method in ("parameters", "named_parameters"):
                selected = receiver.ref.partial or len(frame.tests) > receiver.depth
                params = Params(ref.model, ref.path, partial=selected, node=call)
                return ParamsValue(params, generator=True, named=method == "named_parameters")
            if method in ("train", "eval"):
                self._event(EventKind.MODE, call, frame, ref, value=method == "train", partial=True)
                return None
            if method == "apply":
                self._init_via_apply(call, ref, args, frame)
                return None
            return None
        if isinstance(receiver, Tensor):
            if method == "backward":
                self._event(EventKind.BACKWARD, call, frame, grad_disabled=receiver.grad_disabled)
                return None
            if method == "requires_grad_" and (receiver.loss or _named_loss(call.func.value)):  # type: ignore[attr-defined]
                self._event(EventKind.LOSS_PATCH, call, frame)
                return None
            return receiver if method in _TENSOR_METHODS else None
        if isinstance(receiver, Layer) and method in ("to", "cuda"):
            return dataclasses.replace(receiver, on_device=True)
        if isinstance(receiver, ParamList):
            if method == "append" and args:
                item = args[0]
                if isinstance(item, ParamVar):
                    conditions = frame.tests[item.depth:]
                    filtered = any(_code_mentions(self.module, c, "requires_grad") for c in conditions)
                    partial = any(c is None or not _code_mentions(self.module, c, "requires_grad") for c in conditions)
                    receiver.items.append(dataclasses.replace(
                        item.params, filtered=item.params.filtered or filtered, partial=item.params.partial or partial,
                    ))
                else:
                    receiver.unknown = True
            elif method in ("extend", "append"):
                parts = _as_params(args[0]) if args else None
                if parts is None:
                    receiver.unknown = True
                else:
                    receiver.items.extend(p.params for p in parts)
            return None
        if method == "backward":
            self._event(EventKind.BACKWARD, call, frame)
            return None
        if method == "load_state_dict" and receiver is None:
            strict = calls.argument(call, 1, "strict")
            if strict is not None and calls.bool_literal(strict) is False:
                self._event(EventKind.LOAD, call, frame, strict=False, result_used=not discarded)
            return None
        if method == "requires_grad_" and isinstance(call.func, cst.Attribute) and _named_loss(call.func.value):
            self._event(EventKind.LOSS_PATCH, call, frame)
            return None
        return _UNHANDLED

    def _model_method(
        self, call: cst.Call, ref: Ref, method: str, args: list[object], frame: Frame, discarded: bool
    ) -> object:
        if ref.model.wrapped is not None and method != "load_state_dict":
            ref = Ref(ref.model.wrapped, ref.path, ref.partial)
        if method in ("parameters", "named_parameters"):
            params = Params(ref.model, ref.path, partial=ref.partial, node=call)
            return ParamsValue(params, generator=True, named=method == "named_parameters")
        if method in ("children", "modules", "named_children", "named_modules"):
            return ModuleIter(ref, named=method.startswith("named_"))
        if method == "requires_grad_":
            flag = calls.bool_literal(call.args[0].value) if call.args else True
            self._event(EventKind.FREEZE, call, frame, ref, value=flag, partial=ref.partial)
            return ref
        if method in ("to", "cuda"):
            if method == "cuda" or self._is_device_move(call, frame):
                self._event(EventKind.MOVE, call, frame, ref)
            return ref
        if method in ("train", "eval"):
            flag = True if method == "train" and not call.args else calls.bool_literal(call.args[0].value) if call.args else False
            self._event(EventKind.MODE, call, frame, ref, value=flag)
            return ref
        if method == "load_state_dict":
            strict_node = calls.argument(call, 1, "strict")
            strict = True if strict_node is None else calls.bool_literal(strict_node)
            self._event(EventKind.LOAD, call, frame, ref, strict=strict, result_used=not discarded)
            return None
        if method == "apply":
            self._init_via_apply(call, ref, args, frame)
            return ref
        if method in _RETURNS_SELF:
            return ref
        if ref.model.user_class is not None and not ref.path:
            return _UNHANDLED
        return None

    def _is_device_move(self, call: cst.Call, frame: Frame) -> bool:
        target = calls.argument(call, 0, "device")
        if target is None:
            return False
        text = calls.string_literal(target)
        if text is not None:
            return not text.startswith("cpu")
        name = self.names.qualified_name(target, frame.scope) or ""
        if name.startswith("torch.") and name.split(".")[-1] in _DTYPES:
            return False
        if isinstance(target, cst.Call) and self.names.call_name(target, frame.scope) == "torch.device":
            text = calls.string_literal(calls.argument(target, 0, "type"))
            return text is None or not text.startswith("cpu")
        return True

    def _init_via_apply(self, call: cst.Call, ref: Ref, args: list[object], frame: Frame) -> None:
        function = args[0] if args else None
        if isinstance(function, FunctionRef) and self._initialises(function.node):
            self._event(EventKind.INIT, call, frame, ref, partial=ref.partial)

    def _initialises(self, node: cst.FunctionDef) -> bool:
        scope = self.facts.scopes.get(node)
        for site in self.facts.calls:
            if scope is not None and _within(site.scope, scope):
                name = self.names.call_name(site.node, site.scope) or ""
                if name.startswith("torch.nn.init.") or name.endswith("reset_parameters"):
                    return True
        return False

    def _named_call(self, call: cst.Call, name: str, args: list[object], frame: Frame) -> object:
        built = calls.model_call(self.names, call, frame.scope)
        if built is not None:
            model = self._model(
                call, builder=built.builder, pretrained=self._pretrained(call, built), library=True
            )
            self._event(EventKind.BUILD, call, frame, Ref(model))
            return Ref(model)
        if name == "timm.create_model":
            flag = calls.keyword(call, "pretrained")
            model = self._model(call, pretrained=calls.bool_literal(flag.value) if flag else False, library=True)
            self._event(EventKind.BUILD, call, frame, Ref(model))
            return Ref(model)
        if name.startswith("torch.optim.") and not name.startswith(_NOT_OPTIMIZERS):
            klass = name.rsplit(".", 1)[-1]
            if klass[:1].isupper() and klass != "Optimizer":
                return self._optimizer(call, klass, args, frame)
        if name in _WRAPPERS:
            inner = args[0] if args else None
            if isinstance(inner, Ref) and not inner.path:
                wrapper = self._model(call, wrapped=inner.model)
                return Ref(wrapper)
            return None
        if name.startswith("torch.nn.init."):
            for value in args[:1]:
                target = value.params if isinstance(value, ParamVar) else value
                if isinstance(target, Params):
                    self._event(EventKind.INIT, call, frame, Ref(target.model, target.path), partial=True)
                elif isinstance(target, Ref):
                    self._event(EventKind.INIT, call, frame, target, partial=target.partial)
            return None
        if name in ("torch.nn.Sequential", "torch.nn.ModuleList") and any(isinstance(a, Ref) for a in args):
            container = self._model(call)
            for index, value in enumerate(args):
                if isinstance(value, Ref) and not value.path and value.model.home is None:
                    value.model.home = (container, (str(index),))
            return Ref(container)
        if name.startswith("torch.nn.functional."):
            short = name.rsplit(".", 1)[-1]
            return Tensor("loss" in short or short in _LOSS_FUNCTIONS, frame.no_grad)
        if self.values.is_layer_name(name):
            short = name.rsplit(".", 1)[-1]
            if short.endswith("Loss"):
                return Criterion(call)
            if short in _CONTAINERS:
                params = not args or any(not (isinstance(a, Layer) and not a.params) for a in args)
            else:
                params = not short.startswith(_PARAMETERLESS)
            return Layer(call, on_device=calls.keyword(call, "device") is not None, params=params)
        if name == "builtins.filter" and len(args) == 2 and isinstance(args[1], ParamsValue):
            source = args[1]
            filtered = _code_mentions(self.module, call.args[0].value, "requires_grad")
            params = dataclasses.replace(
                source.params, filtered=source.params.filtered or filtered,
                partial=source.params.partial or not filtered, node=call,
            )
            return ParamsValue(params, generator=True, named=source.named)
        if name in _CONSUMERS and args:
            first = args[0]
            if isinstance(first, ParamsValue):
                if first.generator:
                    self._consume(first, call)
                if name in _COPIES:
                    return ParamsValue(first.params, generator=False, named=first.named)
                return None
            if isinstance(first, ModuleIter) and name in _COPIES:
                return first
            return None
        if name == "builtins.enumerate" and args:
            return Enumerated(args[0])
        if name in ("itertools.chain",):
            parts = [_as_params(a) for a in args]
            if parts and all(p is not None for p in parts):
                return MultiParams(tuple(item for p in parts for item in p))  # type: ignore[union-attr]
            return None
        if name in _HARMLESS or name.startswith(("builtins.", "logging.", "math.", "numpy.")):
            return None
        self._escape(call, args, frame)
        return None

    def _pretrained(self, call: cst.Call, built: calls.ModelCall) -> bool | None:
        weights = calls.keyword(call, "weights")
        legacy = calls.keyword(call, "pretrained")
        chosen = weights.value if weights is not None else legacy.value if legacy is not None else None
        if chosen is None:
            if any(arg.star for arg in call.args):
                return None
            positional = [a for a in call.args if a.keyword is None]
            first_bool = calls.bool_literal(positional[0].value) if positional and not built.by_string else None
            return first_bool if first_bool is not None else False
        if calls.is_none(chosen) or calls.bool_literal(chosen) is False:
            return False
        if calls.bool_literal(chosen) is True or isinstance(chosen, (cst.SimpleString, cst.Attribute)):
            return True
        return None

    def _optimizer(self, call: cst.Call, klass: str, args: list[object], frame: Frame) -> Optimizer:
        params_node, params_value = self._arg(call, args, 0, "params")
        lr_node, _ = self._arg(call, args, 1, "lr")
        groups = self._groups(params_node, params_value, lr_node, call, frame)
        optimizer = Optimizer(call, klass, groups, frame.scope)
        self.optimizers.append(optimizer)
        self._event(EventKind.OPTIMIZER, call, frame, optimizer=optimizer)
        return optimizer

    def _groups(
        self, node: cst.BaseExpression | None, value: object, lr: cst.BaseExpression | None, owner: cst.CSTNode,
        frame: Frame,
    ) -> list[Group]:
        if node is None:
            return [Group(None, lr, owner)]
        if isinstance(value, DictValue):
            params = next(((n, v) for key, n, v in value.items if key == "params"), (None, None))
            group_lr = next((n for key, n, _ in value.items if key == "lr"), lr)
            return [Group(self._held(params[0], params[1], frame), group_lr, node)]
        if isinstance(value, TupleValue) and any(isinstance(item, DictValue) for item in value.items):
            # Written in place, each group has its own element; held in a variable (`optim_groups = [...]`,
            # built elsewhere), the groups are reported at the argument that names them.
            written = isinstance(node, (cst.List, cst.Tuple)) and len(node.elements) == len(value.items)
            elements = [e.value for e in node.elements] if written else [node] * len(value.items)
            groups: list[Group] = []
            for element, item in zip(elements, value.items):
                groups.extend(self._groups(element, item, lr, element, frame))
            return groups
        return [Group(self._held(node, value, frame), lr, node)]

    def _held(self, node: cst.BaseExpression | None, value: object, frame: Frame) -> tuple[Params, ...] | None:
        if isinstance(value, ParamList):
            return None if value.unknown or not value.items else tuple(value.items)
        parts = _as_params(value)
        if parts is None:
            return None
        for part in parts:
            if part.generator and part.consumed is not None and node is not None:
                self._event(EventKind.EXHAUSTED, node, frame, Ref(part.params.model), related=part.consumed)
            if part.generator:
                self._consume(part, node or part.params.node or cst.Name("_"))
        return tuple(p.params for p in parts)

    # --- the file's own functions and classes -------------------------------------------------------------
    def _invoke(self, function: FunctionRef, call: cst.Call, args: list[object], frame: Frame) -> object:
        node = function.node
        if isinstance(node, cst.ClassDef):
            return self._construct(node, call, args, frame)
        if node in self._active or frame.depth >= MAX_DEPTH or self._budget <= 0:
            self._escape(call, args, frame)
            return None
        scope = self.facts.scopes.get(node)
        if scope is None:
            return None
        self.reached.add(node)
        env = self._bind_arguments(node, call, args, function.bound)
        callee = Frame(
            scope, env, inherited_condition=frame.conditional, loops=frame.loops,
            no_grad=frame.no_grad or self._no_grad_decorated(node), depth=frame.depth + 1,
        )
        self._active.append(node)
        try:
            self._block(node.body, callee)
        finally:
            self._active.pop()
        results = callee.returned
        if len(results) == 1 or (results and all(r is results[0] for r in results)):
            return results[0]
        return None

    def _construct(self, cls: cst.ClassDef, call: cst.Call, args: list[object], frame: Frame) -> object:
        instance = self._instance(cls, call)
        if isinstance(instance, Ref):
            self._event(EventKind.BUILD, call, frame, instance)
        init = method_of(cls, "__init__")
        if init is not None:
            self._invoke(FunctionRef(init, instance), call, args, frame)
        return instance

    @staticmethod
    def _bind_arguments(node: cst.FunctionDef, call: cst.Call, args: list[object], bound: object) -> dict[str, object]:
        params = [*node.params.posonly_params, *node.params.params]
        env: dict[str, object] = {}
        if bound is not None and params:
            env[params[0].name.value] = bound
            params = params[1:]
        positional = [value for arg, value in zip(call.args, args) if arg.keyword is None and not arg.star]
        if any(arg.star for arg in call.args):
            return env
        for param, value in zip(params, positional):
            env[param.name.value] = value
        names = {p.name.value for p in (*params, *node.params.kwonly_params)}
        for arg, value in zip(call.args, args):
            if arg.keyword is not None and arg.keyword.value in names:
                env[arg.keyword.value] = value
        return env


class _Unhandled:
    pass


_UNHANDLED = _Unhandled()
_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16", "half", "float", "double", "int8", "uint8",
                     "int16", "int32", "int64", "long", "bool", "complex64"})
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# Layer classes (and prefixes of families) that hold no parameters.
_PARAMETERLESS = (
    "Identity", "Dropout", "AlphaDropout", "FeatureAlphaDropout", "ReLU", "LeakyReLU", "GELU", "SiLU", "Sigmoid",
    "Tanh", "Softmax", "LogSoftmax", "Softplus", "Flatten", "Unflatten", "AdaptiveAvgPool", "AdaptiveMaxPool",
    "AvgPool", "MaxPool", "LPPool", "Hardswish", "Hardsigmoid", "Hardtanh", "Mish", "ELU", "SELU", "CELU",
    "Upsample", "ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "PixelShuffle", "ChannelShuffle",
)
_LOSS_FUNCTIONS = frozenset({"cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                             "kl_div", "margin_ranking_loss", "triplet_margin_loss"})


def _named_loss(expr: cst.BaseExpression) -> bool:
    """A variable whose name says it holds a loss (`loss`, `train_loss`): where the value itself is unknown."""
    return isinstance(expr, cst.Name) and "loss" in expr.value.lower()


def _as_params(value: object) -> tuple[ParamsValue, ...] | None:
    if isinstance(value, ParamsValue):
        return (value,)
    if isinstance(value, MultiParams):
        return value.items
    return None


def _index(expr: cst.Subscript) -> str | None:
    """A literal index as a path component of a model: `classifier[6]` is ("classifier", "6")."""
    index = calls.subscript_index(expr)
    return None if index is None else str(index)


def _within(scope: Scope | None, ancestor: Scope) -> bool:
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.parent
    return False


def build_story(module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer) -> Story:
    return Interpreter(module, facts, names, values).run()

