from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class ChildrenTruncation(Rule):
    """
    ## What it does
    Finds a torchvision backbone cut with `nn.Sequential(*list(model.children())[:-k])` where the model's
    forward does something between the kept children and the next one (resnet and vgg flatten, densenet
    applies ReLU and pooling, inception transforms its input). Whether a cut is faithful is observed in a
    traced forward of each architecture.

    ## Why is this bad?
    `children()` lists modules, not the forward: the operations the forward does outside child modules
    are lost. resnet's cut returns `N x 2048 x 1 x 1`, and the `Linear(2048, k)` after it fails with
    `mat1 and mat2 shapes cannot be multiplied (4096x1 and 2048x3)`; densenet's cut returns an unpooled
    feature map.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    backbone = nn.Sequential(*list(model.children())[:-1])
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Identity()
    backbone = model
    ```
    """

    code = "FL309"
    name = "children-truncation"
    severity = Severity.WARNING
    summary = "A torchvision backbone cut with children(): the operations its forward does between them are lost"
    requires_tokens = ("children",)
    fires = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.densenet121()\n"
        "f = nn.Sequential(*list(m.children())[:-1])\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nf = nn.Sequential(*list(m.children())[:-1])\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nf = nn.Sequential(*list(m.children())[:-2])\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nf = nn.Sequential(*list(m.children())[:-2])\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.convnext_tiny()\n"
        "f = nn.Sequential(*list(m.children())[:-1])\n",
        "import torch.nn as nn\nm = MyNet()\nf = nn.Sequential(*list(m.children())[:-1])\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        names = ctx.analysis.names
        for site in ctx.analysis.facts.calls:
            call = site.node
            if names.qualified_name(call.func, site.scope) != "torch.nn.Sequential" or len(call.args) != 1:
                continue
            arg = call.args[0]
            if arg.star != "*":
                continue
            cut = self._cut(ctx, arg.value, site.scope)
            if cut is None:
                continue
            model, stop = cut
            builder = ctx.analysis.architectures.builder_of(model, site.scope)
            arch = tv.architecture(builder) if builder is not None else None
            if arch is None or builder is None:
                continue
            kept = stop + len(arch.children) if stop < 0 else stop
            if kept <= arch.sequential_prefix or not 0 < kept < len(arch.children):
                continue
            after = arch.children[kept - 1]
            yield ctx.report(
                self, call,
                f"{builder.name}'s forward does more than call its children: this cut loses what it does between "
                f"`{after}` and `{arch.children[kept]}` (a flatten, an activation or pooling), so the features "
                f"differ from the model's; set `{ctx.code(model)}.{tv.display_path(arch.head)} = nn.Identity()` "
                f"or use torchvision.models.feature_extraction.create_feature_extractor",
            )

    @staticmethod
    def _cut(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> tuple[cst.BaseExpression, int] | None:
        """`list(model.children())[:stop]` -> (model, stop)."""
        if not isinstance(expr, cst.Subscript) or len(expr.slice) != 1:
            return None
        part = expr.slice[0].slice
        if not isinstance(part, cst.Slice) or part.lower is not None or part.step is not None or part.upper is None:
            return None
        upper = part.upper
        sign = 1
        if isinstance(upper, cst.UnaryOperation) and isinstance(upper.operator, cst.Minus):
            sign, upper = -1, upper.expression
        if not isinstance(upper, cst.Integer):
            return None
        listed = expr.value
        if not (isinstance(listed, cst.Call) and len(listed.args) == 1
                and ctx.analysis.names.qualified_name(listed.func, scope) == "builtins.list"):
            return None
        children = listed.args[0].value
        if not (isinstance(children, cst.Call) and isinstance(children.func, cst.Attribute)
                and children.func.attr.value == "children" and not children.args):
            return None
        return children.func.value, sign * int(upper.evaluated_value)
