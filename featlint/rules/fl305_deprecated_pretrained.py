from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.calls import ModelCall, bool_literal, keyword, model_call
from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Edit, Severity
from featlint.rules.base import Rule

_LEGACY = {"pretrained": "weights", "pretrained_backbone": "weights_backbone"}


class DeprecatedPretrained(Rule):
    """
    ## What it does
    Finds the legacy `pretrained=` and `pretrained_backbone=` arguments of torchvision model builders, a
    boolean `weights=True`/`weights=False`, and `weights=` given the enum class itself
    (`weights=models.ResNet18_Weights`, not a member such as `.DEFAULT`), which torchvision takes as the
    legacy `pretrained=True` (also through `torchvision.models.get_model`,
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
        "from torchvision import models\nm = models.resnet18(weights=models.ResNet18_Weights)\n",
    )
    silent = (
        "from torchvision import models\nm = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)\n",
        "from torchvision import models\nm = models.resnet50(weights=None)\n",
        "def resnet50(pretrained=False):\n    pass\nm = resnet50(pretrained=True)\n",
        "import timm\nm = timm.create_model('resnet50', pretrained=True)\n",
        "import torch\nm = torch.hub.load('pytorch/vision:v0.10.0', 'resnet18', pretrained=True)\n",
        "from torchvision import models\nm = models.resnet50(weights='DEFAULT')\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Builders resolve through an import that spells `torchvision`; `torch.hub.load` needs `hub` (or the
        repository "pytorch/vision"). A name spelled only through escape sequences in a string
        (`getattr(torch, "\\x68ub")`) is not followed. The argument is `pretrained*=`, `weights*=` or a bare bool."""
        return ("vision" in source or "hub" in source) and any(
            token in source for token in ("pretrained", "weights", "True", "False")
        )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for site in ctx.analysis.facts.calls:
            target = model_call(ctx.analysis.names, site.node, site.scope)
            if target is None:
                continue
            for arg in site.node.args:
                if arg.keyword is not None and arg.keyword.value in _LEGACY:
                    yield self._report(ctx, site.node, site.scope, target, arg, _LEGACY[arg.keyword.value])
                elif arg.keyword is not None and arg.keyword.value in _LEGACY.values():
                    if bool_literal(arg.value) is not None or _enum_class(ctx, arg.value, site.scope):
                        yield self._report(ctx, site.node, site.scope, target, arg, arg.keyword.value)
            first = site.node.args[0] if site.node.args else None
            if first is not None and first.keyword is None and not target.by_string and bool_literal(first.value) is not None:
                yield self._report(ctx, site.node, site.scope, target, first, "weights")

    def _report(
        self, ctx: FileContext, call: cst.Call, scope: Scope, target: ModelCall, arg: cst.Arg, param: str
    ) -> Diagnostic:
        old = f"{arg.keyword.value}=" if arg.keyword is not None else "a positional `True`/`False`"
        old = f"`{old}`" if arg.keyword is not None else old
        flag = bool_literal(arg.value)
        enum_class = _enum_class(ctx, arg.value, scope)
        if enum_class:
            flag = True  # torchvision takes anything but a member or None as the legacy `pretrained=<value>`
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
        if enum_class:
            message = (
                f"`{param}={ctx.code(arg.value)}` is the weights enum class, not one of its weights: torchvision takes "
                f"it as the deprecated `pretrained=True` (a warning since 0.13, and it may stop working) and loads the "
                f"legacy default weights; {advice}" + (" (the weights it loads today)" if replacement else "")
            )
        else:
            message = (
                f"{old} is deprecated since torchvision 0.13 and may be removed; {advice}"
                + (" (the weights `pretrained=True` loads today)" if replacement and flag is not False else "")
            )
        edits: list[Edit] = []
        if replacement is not None:
            if arg.keyword is not None:
                edits = [ctx.replace(arg.value, replacement)]
                if arg.keyword.value != param:
                    edits.insert(0, ctx.replace(arg.keyword, param))
            else:
                edits = [ctx.replace(arg.value, f"{param}={replacement}")]
            if weights is not None and flag is not False:
                edits.extend(weights[1])
        return ctx.report(
            self, arg, message, fix_message=f"Replace with `{param}={replacement}`", edits=edits
        )

    def _weights_expression(
        self, ctx: FileContext, call: cst.Call, scope: Scope, target: ModelCall, param: str
    ) -> tuple[str, list[Edit]] | None:
        """The code of the weights `pretrained=True` maps to, and any import it needs."""
        builder = target.builder
        spec = builder.weights_param(param) if builder is not None else None
        if spec is None or spec.legacy_value is None or keyword(call, "quantize") is not None:
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
    def _still_fails(call: cst.Call, target: ModelCall, param: str, flag: bool | None) -> bool:
        """With weights, a `num_classes` other than the weights' class count raises (that is FL304)."""
        if flag is False or param != "weights" or target.builder is None:
            return False
        num_classes = keyword(call, "num_classes")
        if num_classes is None:
            return False
        spec = target.builder.weights_param("weights")
        if not isinstance(num_classes.value, cst.Integer) or spec is None or spec.legacy_value is None:
            return True
        expected = tv.weights_num_categories(spec.enum, spec.legacy_value)
        return expected is not None and int(num_classes.value.evaluated_value) != expected


def _enum_class(ctx: FileContext, value: cst.BaseExpression, scope: Scope) -> bool:
    """`weights=models.ResNet18_Weights`: a torchvision weights enum itself, not one of its members."""
    name = ctx.analysis.names.qualified_name(value, scope)
    return name is not None and name.startswith("torchvision.") and bool(tv.weights_members(name.rsplit(".", 1)[-1]))
