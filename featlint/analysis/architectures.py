"""Which torchvision model an expression refers to, what lives at a path inside it, and what a new layer is.

The head, data and input rules (FL301-FL309, FL601-FL603) ask simpler questions than the model story: "this
`model` was built by `resnet50(weights=...)`", "`model.classifier[6]` is a Linear(4096, 1000)", "this
`nn.Sequential(nn.Linear(num_ftrs, 256), ...)` takes 2048 features". Answers come from the bindings of the
file (flow-insensitive, like :mod:`featlint.analysis.values`): a name is followed only when every binding
agrees, and anything featlint cannot evaluate is None, which keeps the rules silent.

API (built once per file, on first use, as ``FileAnalysis.architectures``):
  * :meth:`Architectures.builder_of` / :meth:`Architectures.origins`: the builder (and the calls) that
    produced an expression's value;
  * :meth:`Architectures.locate`: ``model.classifier[-1]`` -> the model, its builder and the path "classifier.6";
  * :meth:`Architectures.assignments`: every layer assigned into a torchvision model in the file;
  * :meth:`Architectures.new_layer` and :meth:`Architectures.size`: what a layer expression builds, what a
    size expression evaluates to (literals, constants, `model.fc.in_features`);
  * :meth:`Architectures.built_models` and :meth:`Architectures.weights_of`: every builder call and its weights.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Iterator, Sequence

from featlint.analysis import torchvision as tv
from featlint.analysis.calls import (
    TIMM_CREATE,
    argument,
    bool_literal,
    is_none,
    keyword,
    model_call,
    string_literal,
    subscript_index,
)
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import Binding, ModuleFacts, Scope
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst

# Methods that return the module they are called on.
_SAME_MODULE = frozenset({"to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16",
                          "requires_grad_", "type", "share_memory", "to_empty"})
# Layer attributes that hold a size, and which side of the layer they describe.
_SIZE_ATTRIBUTES = {"in_features": "in", "in_channels": "in", "out_features": "out", "out_channels": "out",
                    "num_features": "in"}
# Keyed by the operator node's class name: no libcst attribute is touched at import (see featlint/startup/deferred.py).
_ARITHMETIC: dict[str, Callable[[int, int], int]] = {
    "Add": operator.add, "Subtract": operator.sub, "Multiply": operator.mul, "FloorDivide": operator.floordiv,
}


@dataclasses.dataclass(frozen=True)
class Origin:
    """A call that built a torchvision model (`models.resnet50(weights=...)`, `get_model("vgg16")`)."""

    builder: tv.Builder
    call: cst.Call = dataclasses.field(repr=False)
    scope: Scope = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Located:
    """A place inside a torchvision model: `path` is dotted like named_modules() ("classifier.6")."""

    builder: tv.Builder
    origins: frozenset[Origin]  # the model object(s), for telling two models of one architecture apart
    root: cst.BaseExpression  # the expression that holds the model (`model`, `self.backbone`)
    path: str

    @property
    def layer(self) -> tv.Layer | None:
        arch = tv.architecture(self.builder)
        return arch.layer(self.path) if arch is not None else None


@dataclasses.dataclass(frozen=True)
class NewLayer:
    """A layer expression as far as the file tells: its torch.nn class and the sizes that could be evaluated.

    For a Sequential, `layers` are its layers (None when not all are known); `in_size`/`out_size` are None
    where the expression could not be evaluated.
    """

    type: str  # Linear, Conv2d, Sequential, Identity, ReLU...
    node: cst.Call = dataclasses.field(repr=False)
    in_size: int | None = None
    out_size: int | None = None
    in_arg: cst.BaseExpression | None = dataclasses.field(default=None, repr=False)  # gives in_size, for fixes
    layers: tuple[NewLayer | None, ...] | None = None
    # Flatten: the arguments were the defaults (start_dim=1): everything but the batch becomes features.
    plain: bool = True


@dataclasses.dataclass(frozen=True)
class Assignment:
    """`<place in a torchvision model> = value`, as an attribute or an index of a Sequential."""

    target: cst.BaseExpression
    value: cst.BaseExpression
    scope: Scope
    statement: cst.CSTNode
    located: Located


class Weights:
    """What a builder call loads: `member` of `enum`, nothing (`NONE`), or something unknown (`UNKNOWN`)."""

    NONE: Weights
    UNKNOWN: Weights

    def __init__(self, enum: str | None = None, member: str | None = None) -> None:
        self.enum = enum
        self.member = member

    @property
    def pretrained(self) -> bool:
        return self.enum is not None

    def __repr__(self) -> str:
        return f"Weights({self.enum}.{self.member})" if self.enum else ("NONE" if self is Weights.NONE else "UNKNOWN")


Weights.NONE = Weights()
Weights.UNKNOWN = Weights()


class Architectures:
    def __init__(self, module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer) -> None:
        self.module = module
        self.facts = facts
        self.names = names
        self.values = values
        self._active: set[int] = set()

    # --- which builder -----------------------------------------------------------------------------------
    def builder_of(self, expr: cst.BaseExpression, scope: Scope) -> tv.Builder | None:
        """The torchvision builder whose model `expr` holds, when every way it can be bound agrees."""
        found = self.origins(expr, scope)
        builders = {origin.builder for origin in found} if found else set()
        return builders.pop() if len(builders) == 1 else None

    def origins(self, expr: cst.BaseExpression, scope: Scope) -> frozenset[Origin] | None:
        """The builder calls that may have produced `expr`; None when any binding leads somewhere else."""
        if id(expr) in self._active:
            return None
        self._active.add(id(expr))
        try:
            return self._origins(expr, scope)
        finally:
            self._active.discard(id(expr))

    def _origins(self, expr: cst.BaseExpression, scope: Scope) -> frozenset[Origin] | None:
        if isinstance(expr, cst.Call):
            built = model_call(self.names, expr, scope)
            if built is not None:
                return frozenset({Origin(built.builder, expr, scope)}) if built.builder is not None else None
            func = expr.func
            if isinstance(func, cst.Attribute) and func.attr.value in _SAME_MODULE:
                return self.origins(func.value, scope)
            if self.names.qualified_name(func, scope) == "copy.deepcopy" and expr.args:
                return self.origins(expr.args[0].value, scope)
            if isinstance(func, cst.Name):
                return self._returned(func.value, scope)
            return None
        if isinstance(expr, cst.Name):
            owner = scope.self_class(expr.value)
            if owner is not None:
                return None  # `self` is the user's own module: left alone
            return self._bound(scope.lookup(expr.value))
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            owner = scope.self_class(expr.value.value)
            if owner is not None:
                return self._bound(self.facts.class_attributes.get(owner, {}).get(expr.attr.value, []))
        return None

    def _bound(self, bindings: Sequence[Binding]) -> frozenset[Origin] | None:
        if not bindings:
            return None
        found: set[Origin] = set()
        for binding in bindings:
            if binding.kind != "assign" or binding.element or binding.iterates or binding.value is None:
                return None
            origins = self.origins(binding.value, binding.scope)
            if origins is None:
                return None
            found |= origins
        return frozenset(found)

    def _returned(self, name: str, scope: Scope) -> frozenset[Origin] | None:
        """What a function of this file returns, when every `return` returns a model."""
        bindings = scope.lookup(name)
        if len(bindings) != 1 or not isinstance(bindings[0].node, cst.FunctionDef):
            return None
        function = bindings[0].node
        body = self.facts.scopes.get(function)
        returns = returned_values(self.facts, function)
        if body is None or not returns:
            return None
        found: set[Origin] = set()
        for value in returns:
            origins = self.origins(value, body) if value is not None else None
            if origins is None:
                return None
            found |= origins
        return frozenset(found)

    def is_timm_model(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`expr` holds a model built by `timm.create_model`: a name or a `self.<attr>` every binding of which
        is such a call (or a method returning the same model, such as `.to(device)`)."""
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Attribute) and func.attr.value in _SAME_MODULE:
                return self.is_timm_model(func.value, scope)
            return self.names.call_name(expr, scope) in TIMM_CREATE
        bindings: Sequence[Binding] = []
        if isinstance(expr, cst.Name):
            bindings = scope.lookup(expr.value)
        elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            owner = scope.self_class(expr.value.value)
            if owner is not None:
                bindings = self.facts.class_attributes.get(owner, {}).get(expr.attr.value, [])
        if not bindings or id(expr) in self._active:
            return False
        self._active.add(id(expr))
        try:
            return all(
                b.kind == "assign" and not b.element and b.value is not None and self.is_timm_model(b.value, b.scope)
                for b in bindings
            )
        finally:
            self._active.discard(id(expr))

    # --- places inside a model ---------------------------------------------------------------------------
    def locate(self, expr: cst.BaseExpression, scope: Scope) -> Located | None:
        """`model.classifier[-1]` -> the model `model` holds and the path "classifier.6" inside it."""
        chain: list[tuple[cst.BaseExpression, str | int]] = []
        node = expr
        while True:
            if isinstance(node, cst.Attribute):
                chain.append((node.value, node.attr.value))
                node = node.value
            elif isinstance(node, cst.Subscript) and isinstance(index := subscript_index(node), int):
                chain.append((node.value, index))
                node = node.value
            else:
                break
        for depth in range(len(chain) - 1, -1, -1):
            root, _ = chain[depth]
            origins = self.origins(root, scope)
            builders = {origin.builder for origin in origins} if origins else set()
            if len(builders) != 1:
                continue
            builder = builders.pop()
            arch = tv.architecture(builder)
            if arch is None:
                return None
            parts: list[str] = []
            for _, part in reversed(chain[: depth + 1]):
                if isinstance(part, int) and part < 0:
                    container = arch.layer(".".join(parts))
                    if container is None or container.length is None:
                        return None
                    part += container.length
                parts.append(str(part))
            assert origins is not None, "a layer path was built without the models it comes from"
            return Located(builder, origins, root, ".".join(parts))
        return None

    @functools.cached_property
    def _assignments(self) -> tuple[Assignment, ...]:
        found = []
        for target, value, scope, statement in _stores(self.facts):
            located = self.locate(target, scope)
            if located is not None and located.path:
                found.append(Assignment(target, value, scope, statement, located))
        return tuple(found)

    def assignments(self) -> tuple[Assignment, ...]:
        """Every `model.<path> = value` and `model.<path>[i] = value` into a torchvision model of this file."""
        return self._assignments

    def assigned_paths(self, located: Located) -> set[str]:
        """The paths assigned anywhere in the file on the same model as `located`."""
        return {a.located.path for a in self._assignments if a.located.origins == located.origins}

    # --- new layers and sizes ----------------------------------------------------------------------------
    def new_layer(self, expr: cst.BaseExpression, scope: Scope) -> NewLayer | None:
        """What a torch.nn layer expression builds (following a name bound once), or None."""
        expr = self._single_value(expr, scope) or expr
        if not isinstance(expr, cst.Call):
            return None
        name = self.names.qualified_name(expr.func, scope)
        if name is None or not self.values.is_layer_name(name):
            return None
        kind = name.rsplit(".", 1)[-1]
        if kind in ("Linear", "Conv2d"):
            first, second = ("in_features", "out_features") if kind == "Linear" else ("in_channels", "out_channels")
            in_arg, out_arg = argument(expr, 0, first), argument(expr, 1, second)
            return NewLayer(
                kind, expr,
                in_size=self.size(in_arg, scope) if in_arg is not None else None,
                out_size=self.size(out_arg, scope) if out_arg is not None else None,
                in_arg=in_arg,
            )
        if kind == "Sequential":
            if any(arg.keyword is not None or arg.star for arg in expr.args):
                return NewLayer(kind, expr, layers=None)
            return NewLayer(kind, expr, layers=tuple(self.new_layer(arg.value, scope) for arg in expr.args))
        if kind == "Flatten":
            return NewLayer(kind, expr, plain=not expr.args)
        return NewLayer(kind, expr)

    def size(self, expr: cst.BaseExpression, scope: Scope) -> int | None:
        """An integer size: a literal, arithmetic, a name bound once, or a size read from a torchvision layer
        (`model.fc.in_features`). Command-line defaults are not sizes: the user may pass another value."""
        if isinstance(expr, cst.Integer):
            return int(expr.evaluated_value)
        if isinstance(expr, cst.BinaryOperation) and type(expr.operator).__name__ in _ARITHMETIC:
            left, right = self.size(expr.left, scope), self.size(expr.right, scope)
            if left is None or right is None or (right == 0 and isinstance(expr.operator, cst.FloorDivide)):
                return None
            return _ARITHMETIC[type(expr.operator).__name__](left, right)
        if isinstance(expr, cst.Name):
            value = self._single_value(expr, scope)
            if value is None or id(value) in self._active:
                return None
            self._active.add(id(value))
            try:
                return self.size(value, self._value_scope(expr, scope))
            finally:
                self._active.discard(id(value))
        if isinstance(expr, cst.Attribute) and expr.attr.value in _SIZE_ATTRIBUTES:
            located = self.locate(expr.value, scope)
            layer = located.layer if located is not None else None
            if layer is None:
                return None
            if _SIZE_ATTRIBUTES[expr.attr.value] == "in":
                return layer.in_size
            # The output size changes when the file replaces the layer: only the untouched one is known.
            assert located is not None, "a size attribute of a layer that has no place in a model"
            if any(covers(path, located.path) for path in self.assigned_paths(located)):
                return None
            return layer.out_size
        return None

    def _single_value(self, expr: cst.BaseExpression, scope: Scope) -> cst.BaseExpression | None:
        if not isinstance(expr, cst.Name):
            return None
        bindings = scope.lookup(expr.value)
        if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].element or bindings[0].value is None:
            return None
        return bindings[0].value

    @staticmethod
    def _value_scope(expr: cst.Name, scope: Scope) -> Scope:
        return scope.lookup(expr.value)[0].scope

    # --- built models and their weights ------------------------------------------------------------------
    @functools.cached_property
    def _built(self) -> tuple[Origin, ...]:
        found = []
        for site in self.facts.calls:
            built = model_call(self.names, site.node, site.scope)
            if built is not None and built.builder is not None:
                found.append(Origin(built.builder, site.node, site.scope))
        return tuple(found)

    def built_models(self) -> tuple[Origin, ...]:
        """Every call of the file that builds a known torchvision model."""
        return self._built

    def has_unknown_models(self) -> bool:
        """A model is built whose architecture featlint cannot tell (`models.__dict__[arch]()`, timm, a
        Hugging Face or PEFT model)."""
        for site in self.facts.calls:
            built = model_call(self.names, site.node, site.scope)
            if built is not None and built.builder is None:
                return True
            name = self.names.call_name(site.node, site.scope)
            if name is not None and (name.startswith("timm.") or (
                    name.startswith(("transformers.", "peft.")) and self.values.is_model_factory(name))):
                return True
        return False

    def has_aux_head(self, origin: Origin, aux: tv.AuxHead, arch: tv.Architecture) -> bool:
        """Whether the built model has this auxiliary head: an explicit flag, or torchvision's default."""
        if arch.aux_param is not None:
            flag = keyword(origin.call, arch.aux_param)
            if flag is not None:
                return bool_literal(flag.value) is True
        weights = self.weights_of(origin)
        if weights is weights.UNKNOWN:
            return aux.with_weights and aux.without_weights
        return aux.with_weights if weights.pretrained else aux.without_weights

    def weights_of(self, origin: Origin) -> Weights:
        """The weights the builder call loads, read from `weights=`, a positional argument or `pretrained=`."""
        call, builder = origin.call, origin.builder
        spec = builder.weights_param("weights")
        if spec is None:
            return Weights.NONE
        positional = not model_call(self.names, call, origin.scope).by_string  # type: ignore[union-attr]
        value = keyword(call, "weights")
        expr = value.value if value is not None else None
        if expr is None and positional:
            first = call.args[0] if call.args and call.args[0].keyword is None and not call.args[0].star else None
            expr = first.value if first is not None else None
        legacy = keyword(call, spec.legacy_param)
        if expr is None and legacy is not None:
            flag = bool_literal(legacy.value)
            if flag is None:
                return Weights.UNKNOWN
            return Weights(spec.enum, spec.legacy_value) if flag and spec.legacy_value else Weights.NONE
        if expr is None:
            return Weights.UNKNOWN if any(arg.star for arg in call.args) else Weights.NONE
        if is_none(expr):
            return Weights.NONE
        text = string_literal(expr)
        if text is not None:
            member = tv.default_member(spec.enum) if text == "DEFAULT" else text
            return Weights(spec.enum, member) if member in tv.weights_members(spec.enum) else Weights.UNKNOWN
        name = self.names.qualified_name(expr, origin.scope)
        if name is not None and name.startswith("torchvision.") and tv.weights_members(name.rsplit(".", 1)[-1]):
            # The enum class itself (`weights=ResNet18_Weights`): torchvision takes it as `pretrained=True`.
            return Weights(spec.enum, spec.legacy_value) if spec.legacy_value else Weights.UNKNOWN
        if name is not None and name.count(".") >= 2:
            enum, member = name.split(".")[-2:]
            if member == "DEFAULT":
                member = tv.default_member(enum) or ""
            if member in tv.weights_members(enum):
                return Weights(enum, member)
        return Weights.UNKNOWN


# Layers whose output has the shape of their input.
_SHAPE_PRESERVING = frozenset({
    "Dropout", "Dropout1d", "AlphaDropout", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU",
    "SiLU", "Mish", "Hardswish", "Hardsigmoid", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Identity",
    "BatchNorm1d", "LayerNorm",
})
Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Misfit:
    """A layer that cannot take what it receives: `received` is the per-sample input shape."""

    layer: NewLayer
    received: Shape


def feed(layer: NewLayer | None, shape: Shape | None) -> tuple[Shape | None, Misfit | None]:
    """Push a per-sample shape through a new layer: its output shape (None once unknown) or the first
    layer that does not fit. Only what the layer's arguments say is used; anything else ends the walk."""
    if layer is None or shape is None:
        return None, None
    if layer.type == "Linear":
        if layer.in_size is None or not shape:
            return None, None
        if shape[-1] != layer.in_size:
            return None, Misfit(layer, shape)
        return (shape[:-1] + (layer.out_size,) if layer.out_size is not None else None), None
    if layer.type == "Conv2d":
        if layer.in_size is None or len(shape) != 3:
            return None, None
        return (None, Misfit(layer, shape)) if shape[0] != layer.in_size else (None, None)
    if layer.type == "Sequential":
        for inner in layer.layers or (None,):
            shape, misfit = feed(inner, shape)
            if misfit is not None or shape is None:
                return shape, misfit
        return shape, None
    if layer.type == "Flatten":
        return ((functools.reduce(operator.mul, shape, 1),) if layer.plain else None), None
    if layer.type in _SHAPE_PRESERVING:
        return shape, None
    return None, None


def covers(outer: str, inner: str) -> bool:
    """The dotted path `outer` is `inner` or one of its ancestors."""
    return inner == outer or inner.startswith(f"{outer}.")


def returned_values(facts: ModuleFacts, function: cst.FunctionDef) -> list[cst.BaseExpression | None]:
    """What `function`'s own return statements return (None for a bare `return`)."""
    return [statement.value for statement in facts.returns.get(function, [])]


def _stores(facts: ModuleFacts) -> Iterator[tuple[cst.BaseExpression, cst.BaseExpression, Scope, cst.CSTNode]]:
    """`model.<attr> = value` and `model.<path>[i] = value` stores (from the collected facts), with their scopes."""
    for store in (*facts.attribute_stores, *facts.subscript_stores):
        if store.value is not None:
            yield store.target, store.value, store.scope, store.statement
