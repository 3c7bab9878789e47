from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class StaleHeadInOptimizer(Rule):
    """
    ## What it does
    Finds an optimizer built from a layer's parameters (`SGD(model.fc.parameters())`) when that layer is
    replaced afterwards (`model.fc = nn.Linear(...)`) and no new optimizer follows.

    ## Why is this bad?
    The optimizer keeps updating the discarded layer, which the model no longer calls. The new head gets
    gradients but never changes, so the model predicts with a random head for the whole run.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    model.fc = torch.nn.Linear(512, 10)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    ```
    """

    code = "FL205"
    name = "stale-head-in-optimizer"
    severity = Severity.ERROR
    summary = "The optimizer holds a layer that is replaced afterwards: it updates the discarded layer"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.vgg16()\n"
        "opt = torch.optim.Adam(m.classifier[6].parameters())\nm.classifier[6] = torch.nn.Linear(4096, 2)\n",
        "import torch, torchvision\nimport torch.nn as nn\nclass Trainer:\n    def __init__(self):\n"
        "        self.model = torchvision.models.resnet18()\n"
        "        self.opt = torch.optim.SGD(self.model.fc.parameters(), lr=0.1)\n"
        "        self.model.fc = nn.Linear(512, 2)\nTrainer()\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "opt = torch.optim.SGD(m.fc.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.fc.parameters(), lr=0.1)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(m.fc.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.layer4.parameters(), lr=0.1)\n"
        "m.fc = torch.nn.Linear(512, 2)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built, held in story.holdings():
            model, held_path = held.located()
            if held.partial:
                continue
            for change in story.on(model, [EventKind.HEAD]):
                located = change.located()
                assert located is not None, "a HEAD event without the model whose layer it replaces"
                if not change.has_params or change.order <= built.order or not story.alive_at(built, change):
                    continue
                if located[1] and covers(located[1], held_path):
                    if not story.rebuilt_after(model, change):
                        yield ctx.report(
                            self, change.node,
                            f"the optimizer built on {ctx.where(built.node)} holds the parameters of the "
                            f"`{change.named(ctx.code)}` replaced here: it keeps updating the discarded layer and "
                            "the new one never trains; build the optimizer after replacing the layer"
                            + story.path_note(change, built),
                        )
