from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import hub_knowledge as hk
from featlint.analysis import torchvision as tv
from featlint.analysis.calls import argument, string_literal
from featlint.analysis.hubs import HubKind
from featlint.analysis.architectures import Architectures, Assignment
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


# The attributes timm architectures keep their heads in.
_TIMM_HEAD_NAMES = frozenset({"fc", "head", "classifier"})


class HeadNotUsed(Rule):
    """
    ## What it does
    Finds a layer assigned to an attribute of a torchvision model that the model's forward never calls, such
    as `fc` on VGG, EfficientNet, DenseNet, MobileNet or ViT, whose heads live at `classifier[6]`,
    `classifier[1]`, `classifier`, `classifier[3]` and `heads.head`; and the same on a timm model whose
    architecture is written in `timm.create_model("...")` (`model.fc` on a ViT, whose head is `head`), from
    the generated timm knowledge. Code of your own that calls the attribute (`model.fc(features)`) is
    respected.

    ## Why is this bad?
    `nn.Module` registers the new layer without complaint, so it shows up in `named_modules()` and in the
    optimizer, but the forward never uses it: the model still outputs its 1000 ImageNet classes and the new
    layer never receives a gradient. Nothing crashes when the labels are below 1000.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.vgg16(weights=models.VGG16_Weights.DEFAULT)
    model.fc = nn.Linear(4096, 5)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.vgg16(weights=models.VGG16_Weights.DEFAULT)
    model.classifier[6] = nn.Linear(4096, 5)
    ```
    """

    code = "FL302"
    name = "head-not-used"
    severity = Severity.ERROR
    summary = "A layer assigned to an attribute the architecture's forward never calls"
    requires_tokens = ("vision", "timm")
    fires = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.efficientnet_b0()\nm.fc = nn.Linear(1280, 3)\n",
        "import torch.nn as nn\nimport torchvision\nm = torchvision.models.vit_b_16()\nm.head = nn.Linear(768, 3)\n",
        "import torch.nn as nn\nfrom torchvision.models import densenet121\nm = densenet121()\nm.fc = nn.Linear(1024, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('vit_base_patch16_224', pretrained=True)\n"
        "m.fc = nn.Linear(768, 3)\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nm.fc = nn.Linear(2048, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vit_b_16()\nm.heads.head = nn.Linear(768, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nm.fc = nn.Linear(4096, 3)\n"
        "out = m.fc(m.features(x).flatten(1))\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    pass\nm = Net()\nm.fc = nn.Linear(4096, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nm.name = 'vgg'\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50', pretrained=True)\nm.fc = nn.Linear(2048, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model(arch, pretrained=True)\nm.fc = nn.Linear(2048, 3)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        archs = ctx.analysis.architectures
        for assignment in archs.assignments():
            located = assignment.located
            arch = tv.architecture(located.builder)
            if arch is None or "." in located.path or located.path in arch.children:
                continue
            if archs.new_layer(assignment.value, assignment.scope) is None:
                continue
            if _called_by_the_file(ctx, archs, assignment):
                continue
            yield ctx.report(
                self, assignment.target,
                f"{located.builder.name} never calls `{located.path}`: the new layer is never used, never trains, "
                f"and the model still outputs its old classes; its head is `{tv.display_path(arch.head)}`",
            )
        if "timm" in ctx.source:
            yield from self._timm(ctx, archs)

    def _timm(self, ctx: FileContext, archs: Architectures) -> Iterator[Diagnostic]:
        """The same mistake on a timm model whose architecture is a literal: `model.fc = ...` on a ViT."""
        hubs = ctx.analysis.hubs
        for store in ctx.analysis.facts.attribute_stores:
            target = store.target
            step = hubs.step(store.statement)
            if not isinstance(target.value, cst.Name) or step is None or store.value is None:
                continue
            model = hubs.object_of(target.value, store.scope, step)
            if model is None or model.kind is not HubKind.TIMM_MODEL:
                continue
            name = string_literal(argument(model.call, 0, "model_name"))
            arch = hk.timm_architecture(name) if name is not None else None
            attribute = target.attr.value
            if arch is None:
                continue  # the architecture is chosen at run time (`create_model(arch)`): its head is unknown
            heads = (arch.head,) if isinstance(arch.head, str) else arch.head or ()
            # Only the names other architectures give their head (the children are those of this very
            # architecture): `model.name = ...` or a layer the file's own code calls is none of this rule's business.
            if (attribute not in _TIMM_HEAD_NAMES or attribute in arch.children
                    or any(h.split(".")[0] == attribute for h in heads)
                    or archs.new_layer(store.value, store.scope) is None):
                continue
            if any(isinstance(s.node.func, cst.Attribute) and s.node.func.attr.value == attribute
                   for s in ctx.analysis.facts.calls):
                continue
            head = " and ".join(heads)
            yield ctx.report(
                self, target,
                f"timm's {arch.name} has no `{attribute}` and its forward never calls one: the new layer is never "
                f"used, never trains, and the model still outputs its old classes; its head is `{head}`: pass "
                "`num_classes=N` to `timm.create_model` (or call `reset_classifier(N)`)",
            )


def _called_by_the_file(ctx: FileContext, archs: Architectures, assignment: Assignment) -> bool:
    """The file's own code calls the attribute (`model.fc(x)`) on the same model."""
    for site in ctx.analysis.facts.calls:
        func = site.node.func
        if isinstance(func, cst.Attribute) and func.attr.value == assignment.located.path:
            other = archs.locate(func, site.scope)
            if other is not None and other.origins == assignment.located.origins:
                return True
    return False
