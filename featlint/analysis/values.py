"""What an expression holds, as far as a single file tells: an ``nn.Module``, a parameter (or tensor), or a
number, with where that number came from.

The analysis is flow-insensitive and conservative: a name bound several times has a kind only when every
binding agrees, and anything that passes through code featlint cannot see is UNKNOWN. Rules fire only on
known kinds, which is what keeps them quiet on correct code.
"""

from __future__ import annotations

import dataclasses
import enum
import operator
from collections.abc import Callable, Iterable

from featlint.analysis import calls
from featlint.analysis import hub_knowledge as hk
from featlint.analysis import torchvision as tv
from featlint.analysis.names import DYNAMIC, NameResolver
from featlint.analysis.scopes import Binding, ModuleFacts, Scope, element_of
from featlint.startup.deferred import cst


class Kind(enum.Enum):
    MODULE = "module"
    PARAMETER = "parameter"  # a Parameter or any other tensor: `requires_grad` is a real flag on it
    UNKNOWN = "unknown"


# Builders outside torchvision that return a model.
_MODEL_FACTORIES = frozenset({"torch.hub.load", "timm.create_model", "torchvision.models.get_model"})
# Model hubs whose factories return an nn.Module: `transformers.<ModelClass>.from_pretrained`/`from_config`,
# `peft.get_peft_model`, `peft.PeftModel.from_pretrained` (see hub_knowledge for the model classes).
_HUB_FACTORY_PREFIXES = ("transformers.", "peft.")
# Base classes that make a user class an nn.Module.
_MODULE_BASE_PREFIXES = ("torch.nn.", "torchvision.models.")
_MODULE_BASES = frozenset({"pytorch_lightning.LightningModule", "lightning.LightningModule",
                           "lightning.pytorch.LightningModule"})
# torch.nn namespaces whose capitalised members are not layers.
_NOT_LAYER_PREFIXES = ("torch.nn.functional.", "torch.nn.init.", "torch.nn.utils.")
# Methods that return the object they are called on (for modules) or an object of the same kind (tensors).
_SAME_KIND_METHODS = frozenset({
    "to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16", "requires_grad_", "type",
    "detach", "clone", "contiguous", "share_memory",
})
# Attributes of a library module that are tensors rather than submodules.
_TENSOR_ATTRIBUTES = frozenset({
    "weight", "bias", "data", "grad", "running_mean", "running_var", "num_batches_tracked",
    "class_token", "cls_token", "pos_embedding", "pos_embed", "mask_token", "dist_token",
    "relative_position_bias_table", "logit_scale", "layer_scale", "in_proj_weight", "in_proj_bias",
})
# Attributes of a library module that are neither submodules nor tensors (hyper-parameters, flags).
_PLAIN_ATTRIBUTES = frozenset({
    "training", "in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride",
    "padding", "dilation", "groups", "num_features", "eps", "momentum", "affine", "track_running_stats",
    "inplace", "p", "dim", "num_classes", "aux_logits", "transform_input", "requires_grad",
})
# Iterating `module.<method>()` yields these kinds; for the named_ variants, element 1 of each pair.
_ITERATOR_KINDS = {
    "parameters": ((), Kind.PARAMETER), "buffers": ((), Kind.PARAMETER),
    "named_parameters": ((1,), Kind.PARAMETER), "named_buffers": ((1,), Kind.PARAMETER),
    "children": ((), Kind.MODULE), "modules": ((), Kind.MODULE),
    "named_children": ((1,), Kind.MODULE), "named_modules": ((1,), Kind.MODULE),
}
_PARAMETER_CONTAINERS = frozenset({"torch.nn.ParameterDict", "torch.nn.ParameterList",
                                   "torch.nn.modules.container.ParameterDict",
                                   "torch.nn.modules.container.ParameterList"})
_PASS_THROUGH_ITERABLES = frozenset({"builtins.list", "builtins.tuple", "builtins.reversed", "builtins.sorted",
                                     "builtins.iter", "builtins.set"})


@dataclasses.dataclass(frozen=True)
class Number:
    value: float
    # Where the value was written, when it was not written at the use (a constant, an argparse default).
    origin: cst.CSTNode | None = None
    origin_label: str | None = None


# Keyed by the operator node's class name: no libcst attribute is touched at import (see featlint/startup/deferred.py).
_BINARY: dict[str, Callable[[float, float], float]] = {
    "Add": operator.add, "Subtract": operator.sub, "Multiply": operator.mul,
    "Divide": operator.truediv, "FloorDivide": operator.floordiv, "Power": operator.pow,
}


def _agree(kinds: Iterable[Kind | None]) -> Kind:
    seen = {kind for kind in kinds if kind is not None}
    return seen.pop() if len(seen) == 1 else Kind.UNKNOWN


class ValueAnalyzer:
    def __init__(self, facts: ModuleFacts, names: NameResolver) -> None:
        self.facts = facts
        self.names = names
        self._active: set[tuple[int, tuple[int, ...]]] = set()
        self._argparse_defaults: dict[str, list[tuple[cst.BaseExpression, Scope, cst.Call]]] | None = None
        self._argparse_literals: dict[str, tuple[object, ...] | None] | None = None

    # --- kinds --------------------------------------------------------------------------------------
    def kind_of(self, expr: cst.BaseExpression, scope: Scope) -> Kind:
        return self._guarded(expr, (), scope, self._kind) or Kind.UNKNOWN

    def _guarded(
        self,
        expr: cst.BaseExpression,
        path: tuple[int, ...],
        scope: Scope,
        compute: Callable[[cst.BaseExpression, tuple[int, ...], Scope], Kind],
    ) -> Kind | None:
        key = (id(expr), path)
        if key in self._active:
            return None  # a cycle through rebinding (`model = model.to(device)`) adds nothing
        self._active.add(key)
        try:
            return compute(expr, path, scope)
        finally:
            self._active.discard(key)

    def _kind(self, expr: cst.BaseExpression, _path: tuple[int, ...], scope: Scope) -> Kind:
        if isinstance(expr, cst.Name):
            return self._name_kind(expr.value, scope)
        if isinstance(expr, cst.Call):
            return self._call_kind(expr, scope)
        if isinstance(expr, cst.Attribute):
            return self._attribute_kind(expr, scope)
        if isinstance(expr, cst.Subscript):
            if self._is_parameter_container(expr.value, scope):
                return Kind.PARAMETER if _is_single_index(expr) else Kind.UNKNOWN
            if self.kind_of(expr.value, scope) is Kind.MODULE:
                return Kind.MODULE  # Sequential / ModuleList / ModuleDict indexing
            return self.element_kind(expr.value, (), scope) if _is_single_index(expr) else Kind.UNKNOWN
        return Kind.UNKNOWN

    def _name_kind(self, name: str, scope: Scope) -> Kind:
        owner = scope.self_class(name)
        if owner is not None:
            return Kind.MODULE if self.is_module_class(owner) else Kind.UNKNOWN
        bindings = scope.lookup(name)
        if not bindings:
            return Kind.UNKNOWN
        return _agree(self._binding_kind(binding) for binding in bindings)

    def _binding_kind(self, binding: Binding) -> Kind | None:
        if binding.value is None:
            return Kind.UNKNOWN
        if binding.iterates:
            return self._guarded(binding.value, binding.element, binding.scope, self._element)
        if binding.kind != "assign":
            return Kind.UNKNOWN
        if binding.element:
            part = element_of(binding.value, binding.element)
            return self._guarded(part, (), binding.scope, self._kind) if part is not None else Kind.UNKNOWN
        return self._guarded(binding.value, (), binding.scope, self._kind)

    def _call_kind(self, call: cst.Call, scope: Scope) -> Kind:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SAME_KIND_METHODS:
            return self.kind_of(func.value, scope)
        name = self.names.qualified_name(func, scope)
        if name is not None:
            if self.is_model_factory(name):
                return Kind.MODULE
            if name == "torch.nn.Parameter" or name == "torch.nn.parameter.Parameter":
                return Kind.PARAMETER
            if name == "copy.deepcopy" and call.args:
                return self.kind_of(call.args[0].value, scope)
            if name.startswith("torch.nn.") and not name.startswith(_NOT_LAYER_PREFIXES):
                return Kind.MODULE if self.is_layer_name(name) else Kind.UNKNOWN
        if isinstance(func, cst.Name):
            classes = [b.node for b in scope.lookup(func.value) if isinstance(b.node, cst.ClassDef)]
            if classes and len(classes) == len(scope.lookup(func.value)):
                return Kind.MODULE if all(self.is_module_class(c) for c in classes) else Kind.UNKNOWN
        return Kind.UNKNOWN

    def _attribute_kind(self, expr: cst.Attribute, scope: Scope) -> Kind:
        attr = expr.attr.value
        base = expr.value
        owner = scope.self_class(base.value) if isinstance(base, cst.Name) else None
        owner = owner or self._instance_class(base, scope)
        if owner is not None:
            bindings = self.facts.class_attributes.get(owner, {}).get(attr, [])
            return _agree(self._binding_kind(b) for b in bindings) if bindings else Kind.UNKNOWN
        base = self.kind_of(expr.value, scope)
        if base is Kind.PARAMETER:
            return Kind.PARAMETER if attr in ("data", "grad") else Kind.UNKNOWN
        if base is not Kind.MODULE:
            return Kind.UNKNOWN
        if attr in _TENSOR_ATTRIBUTES or attr.startswith(("weight_", "bias_")) or attr.endswith(("_weight", "_bias")):
            return Kind.PARAMETER
        if attr in _PLAIN_ATTRIBUTES or attr.startswith("_"):
            return Kind.UNKNOWN
        return Kind.MODULE

    def _is_parameter_container(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`nn.ParameterDict(...)` / `nn.ParameterList(...)`, held in a name or a `self.` attribute bound only
        to one: modules whose items are parameters, not submodules."""
        if isinstance(expr, cst.Name):
            bindings = scope.lookup(expr.value)
        elif isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            owner = scope.self_class(expr.value.value)
            bindings = self.facts.class_attributes.get(owner, {}).get(expr.attr.value, []) if owner else []
        else:
            return False
        return bool(bindings) and all(
            isinstance(b.value, cst.Call) and not b.element
            and self.names.qualified_name(b.value.func, b.scope) in _PARAMETER_CONTAINERS
            for b in bindings
        )

    def _instance_class(self, expr: cst.BaseExpression, scope: Scope) -> cst.ClassDef | None:
        """The class defined in this file that `expr` is an instance of, when every binding agrees.

        Its attributes are whatever the class's methods assign to `self`, nothing more is assumed."""
        if not isinstance(expr, cst.Name):
            return None
        classes = set()
        for binding in scope.lookup(expr.value):
            value = binding.value
            if binding.kind != "assign" or binding.element or not isinstance(value, cst.Call):
                return None
            if not isinstance(value.func, cst.Name):
                return None
            definitions = [b.node for b in binding.scope.lookup(value.func.value)]
            if len(definitions) != 1 or not isinstance(definitions[0], cst.ClassDef):
                return None
            classes.add(definitions[0])
        return classes.pop() if len(classes) == 1 else None

    @staticmethod
    def is_layer_name(name: str) -> bool:
        """`torch.nn.Linear` and the other layer (and loss) classes of torch.nn, not its functions."""
        return (
            name.startswith("torch.nn.")
            and not name.startswith(_NOT_LAYER_PREFIXES)
            and name.rsplit(".", 1)[-1][:1].isupper()
        )

    def is_model_factory(self, name: str) -> bool:
        if name in _MODEL_FACTORIES or tv.builder(name) is not None:
            return True
        if name.startswith(_HUB_FACTORY_PREFIXES):
            return _is_hub_model_factory(name)
        module, _, member = name.rpartition(".")
        return member == DYNAMIC and tv.is_builder_module(module)

    def is_module_class(self, node: cst.ClassDef, _seen: frozenset[int] = frozenset()) -> bool:
        if id(node) in _seen:
            return False
        for base in node.bases:
            expr = base.value
            name = self.names.qualified_name(expr, self.facts.module_scope)
            if name is not None and (name.startswith(_MODULE_BASE_PREFIXES) or name in _MODULE_BASES):
                return True
            if isinstance(expr, cst.Name):
                for parent in self.facts.classes.get(expr.value, []):
                    if self.is_module_class(parent, _seen | {id(node)}):
                        return True
        return False

    # --- iteration ----------------------------------------------------------------------------------
    def element_kind(self, iterable: cst.BaseExpression, path: tuple[int, ...], scope: Scope) -> Kind:
        return self._guarded(iterable, path, scope, self._element) or Kind.UNKNOWN

    def _element(self, iterable: cst.BaseExpression, path: tuple[int, ...], scope: Scope) -> Kind:
        """The kind of `element[path]` for each element that iterating `iterable` yields."""
        if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
            if any(isinstance(e, cst.StarredElement) for e in iterable.elements):
                return Kind.UNKNOWN
            parts = [element_of(e.value, path) if path else e.value for e in iterable.elements]
            return _agree(self.kind_of(p, scope) if p is not None else Kind.UNKNOWN for p in parts)
        if isinstance(iterable, cst.Subscript) and not _is_single_index(iterable):
            return self.element_kind(iterable.value, path, scope)  # a slice iterates like its sequence
        if isinstance(iterable, cst.Name):
            bindings = scope.lookup(iterable.value)
            kinds = []
            for binding in bindings:
                if binding.kind != "assign" or binding.element or binding.value is None:
                    kinds.append(Kind.UNKNOWN)
                else:
                    kinds.append(self._guarded(binding.value, path, binding.scope, self._element))
            return _agree(kinds) if bindings else Kind.UNKNOWN
        if not isinstance(iterable, cst.Call):
            return Kind.UNKNOWN
        func = iterable.func
        if isinstance(func, cst.Attribute) and func.attr.value in _ITERATOR_KINDS:
            yields_path, kind = _ITERATOR_KINDS[func.attr.value]
            if path == yields_path and self.kind_of(func.value, scope) is Kind.MODULE:
                return kind
            return Kind.UNKNOWN
        name = self.names.qualified_name(func, scope)
        args = iterable.args
        if name in _PASS_THROUGH_ITERABLES and len(args) >= 1 and not args[0].star:
            return self.element_kind(args[0].value, path, scope)
        if name == "builtins.enumerate" and args and path[:1] == (1,):
            return self.element_kind(args[0].value, path[1:], scope)
        if name == "builtins.filter" and len(args) == 2:
            return self.element_kind(args[1].value, path, scope)
        if name == "itertools.chain" and args and not any(a.star for a in args):
            return _agree(self.element_kind(a.value, path, scope) for a in args)
        return Kind.UNKNOWN

    # --- numbers ------------------------------------------------------------------------------------
    def number(self, expr: cst.BaseExpression, scope: Scope) -> Number | None:
        if isinstance(expr, (cst.Integer, cst.Float)):
            return Number(float(expr.evaluated_value))
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
            inner = self.number(expr.expression, scope)
            if inner is None:
                return None
            sign = -1.0 if isinstance(expr.operator, cst.Minus) else 1.0
            return dataclasses.replace(inner, value=sign * inner.value)
        if isinstance(expr, cst.BinaryOperation) and type(expr.operator).__name__ in _BINARY:
            left, right = self.number(expr.left, scope), self.number(expr.right, scope)
            if left is None or right is None:
                return None
            try:
                value = _BINARY[type(expr.operator).__name__](left.value, right.value)
            except (ArithmeticError, ValueError):
                return None
            origin = left if left.origin is not None else right
            return Number(float(value), origin.origin, origin.origin_label)
        if isinstance(expr, cst.Name):
            return self._constant(expr, scope)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            if self.is_parsed_arguments(expr.value, scope):
                return self._argparse_default(expr.attr.value)
        return None

    def _constant(self, expr: cst.Name, scope: Scope) -> Number | None:
        bindings = scope.lookup(expr.value)
        if len(bindings) != 1:
            return None
        binding = bindings[0]
        if binding.kind != "assign" or binding.element or binding.value is None:
            return None
        key = (id(binding.value), ())
        if key in self._active:
            return None
        self._active.add(key)
        try:
            found = self.number(binding.value, binding.scope)
        finally:
            self._active.discard(key)
        if found is None:
            return None
        if found.origin is not None:
            return found
        return Number(found.value, binding.node, f"`{expr.value}`")

    def is_parsed_arguments(self, name: cst.Name, scope: Scope) -> bool:
        """`args` bound to `parser.parse_args()` (or to a same-file function that returns it)."""
        bindings = scope.lookup(name.value)
        if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].value is None:
            return False
        value = bindings[0].value
        if isinstance(value, cst.Subscript) and bindings[0].element == ():
            value = value.value  # parse_known_args()[0]
        if not isinstance(value, cst.Call):
            return False
        if isinstance(value.func, cst.Attribute):
            return value.func.attr.value in ("parse_args", "parse_known_args") and parses_command_line(value)
        if isinstance(value.func, cst.Name):
            for definition in bindings[0].scope.lookup(value.func.value):
                if isinstance(definition.node, cst.FunctionDef) and _returns_parsed_arguments(
                    self.facts.returns.get(definition.node, [])
                ):
                    return True
        return False

    def argparse_literal(self, dest: str) -> tuple[object] | None:
        """What `args.<dest>` holds when the script is run without that option, if every `add_argument` for it
        agrees: its literal default, False for `store_true` (True for `store_false`), None without a default.
        None (not a 1-tuple) when the default is not a literal or no `add_argument` names `dest`."""
        if self._argparse_literals is None:
            self._argparse_literals = self._collect_argparse_literals()
        found = self._argparse_literals.get(dest)
        return found if found is not None and len(found) == 1 else None  # type: ignore[return-value]

    def _collect_argparse_literals(self) -> dict[str, tuple[object, ...] | None]:
        """Per destination, the distinct literal values it defaults to (None: one of them is not a literal)."""
        found: dict[str, tuple[object, ...] | None] = {}
        for site in self.facts.calls:
            call = site.node
            if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_argument"):
                continue
            dest = _argparse_dest(call)
            if dest is None:
                continue
            default = next((a.value for a in call.args if a.keyword and a.keyword.value == "default"), None)
            action = next((a.value for a in call.args if a.keyword and a.keyword.value == "action"), None)
            action_name = calls.string_literal(action) if action is not None else None
            if default is not None:
                value = calls.literal(default)
            elif action_name in ("store_true", "store_false"):
                value = (action_name == "store_false",)
            else:
                value = (None,) if action is None else None
            known = found.get(dest, ())
            if value is None or known is None:
                found[dest] = None
            elif value[0] not in known:
                found[dest] = (*known, value[0])
        return found

    def _argparse_default(self, dest: str) -> Number | None:
        if self._argparse_defaults is None:
            self._argparse_defaults = self._collect_argparse_defaults()
        found = [
            (self.number(default, scope), call) for default, scope, call in self._argparse_defaults.get(dest, [])
        ]
        values = {number.value for number, _ in found if number is not None}
        if len(found) == 0 or len(values) != 1 or any(number is None for number, _ in found):
            return None
        return Number(values.pop(), found[0][1], f"the default of `--{dest.replace('_', '-')}`")

    def _collect_argparse_defaults(self) -> dict[str, list[tuple[cst.BaseExpression, Scope, cst.Call]]]:
        defaults: dict[str, list[tuple[cst.BaseExpression, Scope, cst.Call]]] = {}
        for site in self.facts.calls:
            call = site.node
            if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_argument"):
                continue
            dest = _argparse_dest(call)
            default = next((a.value for a in call.args if a.keyword and a.keyword.value == "default"), None)
            if dest is not None and default is not None:
                defaults.setdefault(dest, []).append((default, site.scope, call))
        return defaults


def _is_hub_model_factory(name: str) -> bool:
    library, _, rest = name.partition(".")
    parts = rest.split(".")
    if library == "peft":
        return parts[-1] == "get_peft_model" or (
            len(parts) >= 2 and parts[-1] == "from_pretrained" and "PeftModel" in parts[-2])
    return len(parts) >= 2 and parts[-1] in ("from_pretrained", "from_config") and hk.is_hf_model_class(parts[-2])


def _is_single_index(expr: cst.Subscript) -> bool:
    return len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index)


def parses_command_line(call: cst.Call) -> bool:
    """`parse_args()` of the command line, or of an empty list (a notebook's `parse_args(args=[])`): the
    defaults hold when no option is given; an explicit argument list may set any of them."""
    if not call.args:
        return True
    value = call.args[0].value
    return len(call.args) == 1 and isinstance(value, (cst.List, cst.Tuple)) and not value.elements


def _returns_parsed_arguments(returns: list[cst.Return]) -> bool:
    return bool(returns) and all(
        isinstance(r.value, cst.Call)
        and isinstance(r.value.func, cst.Attribute)
        and r.value.func.attr.value == "parse_args"
        and parses_command_line(r.value)
        for r in returns
    )


def _argparse_dest(call: cst.Call) -> str | None:
    for arg in call.args:
        if arg.keyword and arg.keyword.value == "dest" and isinstance(arg.value, cst.SimpleString):
            value = arg.value.evaluated_value
            return value if isinstance(value, str) else None
    flags = [
        a.value.evaluated_value for a in call.args
        if a.keyword is None and isinstance(a.value, cst.SimpleString) and isinstance(a.value.evaluated_value, str)
    ]
    for flag in flags:
        if isinstance(flag, str) and flag.startswith("--"):
            return flag[2:].replace("-", "_")
    for flag in flags:
        if isinstance(flag, str):
            return flag.lstrip("-").replace("-", "_") or None
    return None
