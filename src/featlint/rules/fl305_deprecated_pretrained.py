from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from featlint.analysis import torchvision as tv
from featlint.analysis.names import DYNAMIC
from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Edit, Severity
from featlint.rules.base import Rule

_LEGACY = {"pretrained": "weights", "pretrained_backbone": "weights_backbone"}
# torch.hub.load("pytorch/vision:v0.10.0", ...) pins a torchvision that predates the weights API.
_HUB_TAG = re.compile(r"^v?0\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class _Target:
    """A call that builds a torchvision model, and how its weights can be written."""

    builder: tv.Builder | None  # None when the architecture is chosen at run time
    by_string: bool  # get_model / torch.hub.load take `weights="IMAGENET1K_V1"` without an import


def _string(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _bool(expr: cst.BaseExpression) -> bool | None:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value == name), None)


def _argument(call: cst.Call, index: int, name: str) -> cst.BaseExpression | None:
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    keyword = _keyword(call, name)
    if keyword is not None:
        return keyword.value
    return positional[index].value if len(positional) > index else None


class DeprecatedPretrained(Rule):
    """
    ## What it does
    Finds the legacy `pretrained=` and `pretrained_backbone=` arguments of torchvision model builders, and a
    boolean `weights=True`/`weights=False` (also through `torchvision.models.get_model`,
    `models.__dict__[arch]`, `getattr(models, arch)` and `torch.hub.load("pytorch/vision", ...)`).

    ## Why is this bad?
    torchvision deprecated these arguments in 0.13 and may remove them; today they only print a warning.
    They also hide which weights you get: `pretrained=True` loads the *old* ImageNet weights of each
    architecture (for resnet50 `IMAGENET1K_V1`, 76.1% top-1), while the weights enum tells the reader, and
    lets you choose the better `IMAGENET1K_V2` (80.9%) or `DEFAULT`.

    ## Example
    ```python
    from torchvision import models

    model = models.resnet50(pretrained=True)
    ```

    ## Use instead
    ```python
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V1)
    ```

    ## Fix safety
    The fix writes the exact weights `pretrained=True` loads today (not `DEFAULT`, which for several
    architectures is a newer, different set of weights), so the model is unchanged. `pretrained=False`
    becomes `weights=None`; a value known only at run time becomes a conditional expression. No fix is
    offered where the call would still fail, such as `num_classes` different from the weights' classes.
    """

    code = "FL305"
    name = "deprecated-pretrained"
    severity = Severity.WARNING
    summary = "`pretrained=` (or a boolean `weights=`) is deprecated since torchvision 0.13"
    fixable = True
    fires = (
        "from torchvision import models\nm = models.resnet50(pretrained=True)\n",
        "import torchvision.models as tvm\nm = tvm.vgg16(pretrained=False)\n",
        "from torchvision.models import resnet18\nm = resnet18(pretrained=args.pretrained)\n",
        "import torchvision\nm = torchvision.models.resnet18(weights=True)\n",
        "import torchvision\nm = torchvision.models.resnet18(True)\n",
        "from torchvision import models\nm = models.__dict__[arch](pretrained=True)\n",
        "from torchvision import models\nm = getattr(models, arch)(pretrained=True)\n",
        "import torchvision\nm = torchvision.models.get_model('resnet50', pretrained=True)\n",
        "import torchvision\nm = torchvision.models.detection.fasterrcnn_resnet50_fpn(pretrained_backbone=True)\n",
        "from torchvision import models\nbuild = models.resnet50\nm = build(pretrained=True)\n",
        "import torch\nm = torch.hub.load('pytorch/vision', 'resnet18', pretrained=True)\n",
    )
    silent = (
        "from torchvision import models\nm = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)\n",
        "from torchvision import models\nm = models.resnet50(weights=None)\n",
        "def resnet50(pretrained=False):\n    pass\nm = resnet50(pretrained=True)\n",
        "import timm\nm = timm.create_model('resnet50', pretrained=True)\n",
        "import torch\nm = torch.hub.load('pytorch/vision:v0.10.0', 'resnet18', pretrained=True)\n",
        "from torchvision import models\nm = models.resnet50(weights='DEFAULT')\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for site in ctx.analysis.facts.calls:
            target = self._target(ctx, site.node, site.scope)
            if target is None:
                continue
            for arg in site.node.args:
                if arg.keyword is not None and arg.keyword.value in _LEGACY:
                    yield self._report(ctx, site.node, site.scope, target, arg, _LEGACY[arg.keyword.value])
                elif arg.keyword is not None and arg.keyword.value in _LEGACY.values():
                    if _bool(arg.value) is not None:
                        yield self._report(ctx, site.node, site.scope, target, arg, arg.keyword.value)
            first = site.node.args[0] if site.node.args else None
            if first is not None and first.keyword is None and not target.by_string and _bool(first.value) is not None:
                yield self._report(ctx, site.node, site.scope, target, first, "weights")

    def _target(self, ctx: FileContext, call: cst.Call, scope: Scope) -> _Target | None:
        name = ctx.analysis.names.call_name(call, scope)
        if name is None:
            return None
        builder = tv.builder(name)
        if builder is not None:
            return _Target(builder, by_string=False)
        module, _, member = name.rpartition(".")
        if member == DYNAMIC and tv.is_builder_module(module):
            return _Target(None, by_string=False)
        if name == "torchvision.models.get_model":
            arch = _argument(call, 0, "name")
            short = _string(arch) if arch is not None else None
            return _Target(tv.builder_by_short_name(short) if short else None, by_string=True)
        if name == "torch.hub.load":
            repo = _argument(call, 0, "repo_or_dir")
            repo_name = _string(repo) if repo is not None else None
            if repo_name is None or repo_name.split(":")[0] != "pytorch/vision":
                return None
            tag = _HUB_TAG.match(repo_name.partition(":")[2])
            if tag is not None and int(tag.group(1)) < 13:
                return None
            model = _argument(call, 1, "model")
            short = _string(model) if model is not None else None
            return _Target(tv.builder_by_short_name(short) if short else None, by_string=True)
        return None

    def _report(
        self, ctx: FileContext, call: cst.Call, scope: Scope, target: _Target, arg: cst.Arg, param: str
    ) -> Diagnostic:
        old = f"{arg.keyword.value}=" if arg.keyword is not None else "a positional `True`/`False`"
        old = f"`{old}`" if arg.keyword is not None else old
        flag = _bool(arg.value)
        weights = self._weights_expression(ctx, call, scope, target, param)
        if flag is False:
            replacement: str | None = "None"
        elif weights is None:
            replacement = None
        elif flag is True:
            replacement = weights[0]
        else:
            replacement = f"{weights[0]} if {ctx.code(arg.value)} else None"
        if replacement is not None and self._still_fails(call, target, param, flag):
            replacement = None
        advice = f"pass `{param}={replacement}`" if replacement else f"pass `{param}=` a weights enum or None"
        message = (
            f"{old} is deprecated since torchvision 0.13 and may be removed; {advice}"
            + (" (the weights `pretrained=True` loads today)" if replacement and flag is not False else "")
        )
        edits: list[Edit] = []
        if replacement is not None:
            if arg.keyword is not None:
                edits = [ctx.replace(arg.keyword, param), ctx.replace(arg.value, replacement)]
            else:
                edits = [ctx.replace(arg.value, f"{param}={replacement}")]
            if weights is not None and flag is not False:
                edits.extend(weights[1])
        return ctx.report(
            self, arg, message, fix_message=f"Replace with `{param}={replacement}`", edits=edits
        )

    def _weights_expression(
        self, ctx: FileContext, call: cst.Call, scope: Scope, target: _Target, param: str
    ) -> tuple[str, list[Edit]] | None:
        """The code of the weights `pretrained=True` maps to, and any import it needs."""
        builder = target.builder
        spec = builder.weights_param(param) if builder is not None else None
        if spec is None or spec.legacy_value is None or _keyword(call, "quantize") is not None:
            return None
        if target.by_string:
            return f'"{spec.legacy_value}"', []
        member = f"{spec.enum}.{spec.legacy_value}"
        names = ctx.analysis.names
        if isinstance(call.func, cst.Attribute) and names.qualified_name(call.func.value, scope) == spec.enum_module:
            return f"{ctx.code(call.func.value)}.{member}", []
        module_scope = ctx.analysis.facts.module_scope
        for local, bindings in module_scope.bindings.items():
            qualified = {b.qualified for b in bindings}
            if qualified == {f"{spec.enum_module}.{spec.enum}"}:
                return f"{local}.{spec.legacy_value}", []
            if qualified == {spec.enum_module}:
                return f"{local}.{member}", []
        if isinstance(call.func, cst.Name) and spec.enum not in module_scope.bindings:
            bindings = scope.lookup(call.func.value)
            if len(bindings) == 1 and bindings[0].kind == "import" and bindings[0].statement is not None:
                statement = bindings[0].statement
                return member, [ctx.insert_line_after(statement, f"from {spec.enum_module} import {spec.enum}")]
        return None

    @staticmethod
    def _still_fails(call: cst.Call, target: _Target, param: str, flag: bool | None) -> bool:
        """With weights, a `num_classes` other than the weights' class count raises (that is FL304)."""
        if flag is False or param != "weights" or target.builder is None:
            return False
        num_classes = _keyword(call, "num_classes")
        if num_classes is None:
            return False
        spec = target.builder.weights_param("weights")
        if not isinstance(num_classes.value, cst.Integer) or spec is None or spec.legacy_value is None:
            return True
        expected = tv.weights_num_categories(spec.enum, spec.legacy_value)
        return expected is not None and int(num_classes.value.evaluated_value) != expected
