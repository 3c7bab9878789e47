"""The abstract values the interpreter computes instead of tensors and modules.

A model is a :class:`Ref` (a model and a path inside it); the parameters of a module flow as
:class:`ParamsValue`; loop variables over them are :class:`ParamVar`/:class:`ModuleVar`; the file's own
functions and classes are :class:`FunctionRef`. ``None`` means "unknown": nothing is recorded for it.
"""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.story import Model, Params, Path
from featlint.startup.deferred import cst

# Attributes of a module that are parameters: `layer.weight.requires_grad = False` freezes part of `layer`.
PARAM_ATTRIBUTES = frozenset({"weight", "bias"})


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
    enabled: bool = False  # `p.requires_grad = True` ran on this path of this iteration: it trains from here on


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
class Constant:
    """A value the script writes as a literal (a flag, an architecture name, a number), possibly through a name
    or an argparse default: branches that test it are decided (see :mod:`.statements`). `label` is how the
    script names it (`feature_extract`, `args.arch`); `default` says it is a default the user may override."""

    value: object
    label: str | None = None
    default: bool = False

    def describe(self) -> str:
        shown = repr(self.value)
        said = f"`{self.label}` is {shown}" if self.label else shown
        return f"{said} by default" if self.default else said


@dataclasses.dataclass(frozen=True)
class ParsedArguments:
    """What `parser.parse_args()` returns: its attributes hold their argparse defaults (see `Constant`), also
    where it is handed to a function as a parameter (`main(args)`)."""


@dataclasses.dataclass(frozen=True)
class LightningTrainer:
    """A Lightning `Trainer`: its `fit(module)` runs the module's `configure_optimizers` (see `.lightning`)."""

    node: cst.CSTNode


@dataclasses.dataclass(frozen=True)
class Enumerated:
    inner: object


class _Unhandled:
    """A method call the value's own handler does not know: the caller falls back to the call's name."""


UNHANDLED = _Unhandled()


def named_loss(expr: cst.BaseExpression) -> bool:
    """A variable whose name says it holds a loss (`loss`, `train_loss`): where the value itself is unknown."""
    return isinstance(expr, cst.Name) and "loss" in expr.value.lower()


def as_params(value: object) -> tuple[ParamsValue, ...] | None:
    if isinstance(value, ParamsValue):
        return (value,)
    if isinstance(value, MultiParams):
        return value.items
    return None


def literal_index(expr: cst.Subscript) -> str | None:
    """A literal index as a path component of a model: `classifier[6]` is ("classifier", "6")."""
    index = calls.subscript_index(expr)
    return None if index is None else str(index)
