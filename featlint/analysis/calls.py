"""Reading call expressions: arguments by position or keyword, literals, and which calls build a model.

Rules and the model story both need to know whether a call builds a torchvision model and with which
arguments; keeping that here gives every reader the same answer (`get_model("resnet50")`,
`torch.hub.load("pytorch/vision", "resnet50")`, `models.__dict__[arch]()` included).
"""

from __future__ import annotations

import dataclasses
import re

from featlint.analysis import torchvision as tv
from featlint.analysis.names import DYNAMIC, NameResolver
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst

# The calls that build a timm model.
TIMM_CREATE = frozenset({"timm.create_model", "timm.models.create_model"})
# torch.hub.load("pytorch/vision:v0.10.0", ...) pins a torchvision that predates the weights API.
_HUB_TAG = re.compile(r"^v?0\.(\d+)(?:\.\d+)?$")


def string_literal(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def bool_literal(expr: cst.BaseExpression | None) -> bool | None:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


def literal(expr: cst.BaseExpression | None) -> tuple[object] | None:
    """The value a literal (string, number, True/False/None, negative number) writes, in a 1-tuple so that a
    literal `None` differs from "not a literal"."""
    if isinstance(expr, cst.SimpleString):
        return (expr.evaluated_value,)
    if isinstance(expr, (cst.Integer, cst.Float)):
        return (expr.evaluated_value,)
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return ({"True": True, "False": False, "None": None}[expr.value],)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = literal(expr.expression)
        if inner is not None and isinstance(inner[0], (int, float)) and not isinstance(inner[0], bool):
            return (-inner[0],)
    return None


def is_none(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def subscript_index(node: cst.Subscript) -> int | str | None:
    """The literal in `x[3]`, `x[-1]` or `x["key"]`; None for slices, several indexes or computed ones."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    value = node.slice[0].slice.value
    if isinstance(value, cst.Integer):
        return int(value.evaluated_value)
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        if isinstance(value.expression, cst.Integer):
            return -int(value.expression.evaluated_value)
    return string_literal(value)


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value == name), None)


def argument(call: cst.Call, index: int, name: str) -> cst.BaseExpression | None:
    """The argument passed as keyword `name` or at position `index` (None when absent or after a `*`)."""
    found = keyword(call, name)
    if found is not None:
        return found.value
    positional = []
    for arg in call.args:
        if arg.star:
            break
        if arg.keyword is None:
            positional.append(arg)
    return positional[index].value if len(positional) > index else None


@dataclasses.dataclass(frozen=True)
class ModelCall:
    """A call that builds a torchvision model, and how its weights are written."""

    builder: tv.Builder | None  # None when the architecture is chosen at run time
    by_string: bool  # get_model / torch.hub.load take `weights="IMAGENET1K_V1"` without an import


def vision_hub_call(call: cst.Call) -> ModelCall | None:
    """`torch.hub.load("pytorch/vision[:tag]", "<builder>", ...)` at any tag, pinned before the weights API
    included: it builds a torchvision model (`model_call` leaves old tags out, their `weights=` does not exist)."""
    repo_name = string_literal(argument(call, 0, "repo_or_dir"))
    if repo_name is None or repo_name.split(":")[0] != "pytorch/vision":
        return None
    short = string_literal(argument(call, 1, "model"))
    return ModelCall(tv.builder_by_short_name(short) if short else None, by_string=True)


def model_call(names: NameResolver, call: cst.Call, scope: Scope) -> ModelCall | None:
    name = names.call_name(call, scope)
    if name is None:
        return None
    builder = tv.builder(name)
    if builder is not None:
        return ModelCall(builder, by_string=False)
    module, _, member = name.rpartition(".")
    if member == DYNAMIC and tv.is_builder_module(module):
        return ModelCall(None, by_string=False)
    if name == "torchvision.models.get_model":
        short = string_literal(argument(call, 0, "name"))
        return ModelCall(tv.builder_by_short_name(short) if short else None, by_string=True)
    if name == "torch.hub.load":
        found = vision_hub_call(call)
        tag = _HUB_TAG.match((string_literal(argument(call, 0, "repo_or_dir")) or "").partition(":")[2])
        return None if tag is not None and int(tag.group(1)) < 13 else found
    return None
