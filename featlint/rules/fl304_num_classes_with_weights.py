from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.calls import keyword
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class NumClassesWithWeights(Rule):
    """
    ## What it does
    Finds a torchvision builder called with pretrained weights and a `num_classes` different from the number
    of classes those weights were trained on (also through `get_model` and the legacy `pretrained=True`).

    ## Why is this bad?
    torchvision raises `ValueError: The parameter 'num_classes' expected value 1000 but got 10 instead.`
    before anything is loaded: the weights come with their own 1000-class head. Build the model with the
    weights, then replace its head with one for your classes.

    ## Example
    ```python
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT, num_classes=10)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, 10)
    ```
    """

    code = "FL304"
    name = "num-classes-with-weights"
    severity = Severity.ERROR
    summary = "`num_classes` different from the pretrained weights' classes: torchvision raises ValueError"
    requires_tokens = ("num_classes",)
    fires = (
        "from torchvision import models\nm = models.resnet18(weights='DEFAULT', num_classes=10)\n",
        "import torchvision\nm = torchvision.models.get_model('vit_b_16', weights='IMAGENET1K_V1', num_classes=3)\n",
        "from torchvision.models import efficientnet_b0, EfficientNet_B0_Weights\n"
        "N = 5\nm = efficientnet_b0(weights=EfficientNet_B0_Weights.IMAGENET1K_V1, num_classes=N)\n",
    )
    silent = (
        "from torchvision import models\nm = models.resnet18(weights=None, num_classes=10)\n",
        "from torchvision import models\nm = models.resnet18(num_classes=10)\n",
        "from torchvision import models\nm = models.resnet18(weights='DEFAULT', num_classes=1000)\n",
        "from torchvision import models\nm = models.resnet18(weights=args.weights, num_classes=10)\n",
        "from torchvision import models\nm = models.resnet18(weights='DEFAULT', num_classes=args.classes)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        archs = ctx.analysis.architectures
        for origin in archs.built_models():
            given = keyword(origin.call, "num_classes")
            if given is None:
                continue
            count = archs.size(given.value, origin.scope)
            weights = archs.weights_of(origin)
            if count is None or weights.enum is None or weights.member is None:
                continue
            expected = tv.weights_num_categories(weights.enum, weights.member)
            if expected is None or expected == count:
                continue
            head = tv.architecture(origin.builder)
            where = f"`{tv.display_path(head.head)}`" if head is not None else "its head"
            yield ctx.report(
                self, given,
                f"{origin.builder.name} with weights {weights.enum}.{weights.member} ({expected} classes) and "
                f"num_classes={count} raises ValueError before training starts; build it with the weights alone, "
                f"then replace {where} with a {count}-class layer",
            )
