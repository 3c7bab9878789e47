from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

_SIZES = frozenset({"out_features", "in_features", "num_features", "out_channels", "in_channels"})


class LayerResizedByAttribute(Rule):
    """
    ## What it does
    Finds a size attribute (`out_features`, `in_features`, `num_features`, `out_channels`, `in_channels`)
    assigned on an existing layer, such as `model.fc.out_features = 10` or
    `model.classifier[-1].out_features = 4`.

    ## Why is this bad?
    These attributes only describe the layer: the weight tensor keeps its shape, so the model still
    outputs 1000 classes while `print(model)` shows the new size. Training then either crashes on the
    targets or silently trains a 1000-way head.

    ## Example
    ```python
    from torchvision import models

    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
    model.fc.out_features = 10
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, 10)
    ```
    """

    code = "FL307"
    name = "layer-resized-by-attribute"
    severity = Severity.ERROR
    summary = "A layer's size attribute assigned: the weights and the output keep their old size"
    requires_tokens = ("_features", "_channels")
    fires = (
        "from torchvision import models\nm = models.vgg16()\nm.classifier[-1].out_features = 4\n",
        "import torch.nn as nn\nhead = nn.Linear(512, 10)\nhead.in_features = 2048\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18()\nm.fc = nn.Linear(512, 10)\n",
        "import torch.nn as nn\nclass MyLinear(nn.Module):\n    def __init__(self, i, o):\n        super().__init__()\n"
        "        self.in_features = i\n        self.out_features = o\n",
        "class Config:\n    pass\ncfg = Config()\ncfg.out_features = 10\n",
        # torchvision's detection backbones: `out_channels` on a container is bookkeeping that the heads read.
        "import torch.nn as nn\nm = nn.Sequential(backbone, nn.Conv2d(2048, 256, 1))\nm.out_channels = 256\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for store in ctx.analysis.facts.attribute_stores:
            attr = store.target.attr.value
            if attr not in _SIZES or store.value is None:
                continue
            layer = store.target.value
            if not _is_library_layer(ctx, layer, attr, store.scope):
                continue
            receiver = ctx.code(layer)
            yield ctx.report(
                self, store.target,
                f"assigning `{attr}` on `{receiver}` changes only its description: the weights and the output keep "
                f"their old size; assign a new layer to `{receiver}` instead",
            )


def _is_library_layer(ctx: FileContext, expr: cst.BaseExpression, attr: str, scope: Scope) -> bool:
    """A submodule of a torchvision model, or a name bound to a torch.nn layer that has `attr` as a size of its
    own: never the user's own module, whose `self.out_features = ...` is just bookkeeping."""
    archs = ctx.analysis.architectures
    located = archs.locate(expr, scope)
    if located is not None and located.path:
        return True
    if not isinstance(expr, cst.Name):
        return False
    layer = archs.new_layer(expr, scope)
    return layer is not None and _owns(layer.type, attr)


def _owns(kind: str, attr: str) -> bool:
    """Whether a torch.nn layer class defines `attr` from its constructor. A container such as nn.Sequential
    has no size: torchvision's detection code sets `out_channels` on one as plain bookkeeping."""
    if attr in ("in_features", "out_features"):
        return kind.endswith("Linear")
    if attr in ("in_channels", "out_channels"):
        return kind.startswith(("Conv", "LazyConv"))
    return "Norm" in kind  # num_features: BatchNorm*, InstanceNorm*, SyncBatchNorm
