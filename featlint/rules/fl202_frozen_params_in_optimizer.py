from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Params, Story, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class FrozenParamsInOptimizer(Rule):
    """
    ## What it does
    Finds parameters that were frozen earlier and are then handed to the optimizer unfiltered, as in
    `SGD(model.parameters())` after a freezing loop.

    ## Why is this bad?
    The frozen parameters get no gradient, so today the optimizer skips them, but it holds them: as soon as
    anything unfreezes them later (or `zero_grad(set_to_none=False)` leaves zero gradients) momentum and
    weight decay start moving the "frozen" backbone without any warning.
    Passing only what trains says what you mean.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    ```
    """

    code = "FL202"
    name = "frozen-params-in-optimizer"
    severity = Severity.WARNING
    summary = "Frozen parameters are handed to the optimizer unfiltered"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('fc'):\n        p.requires_grad = False\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torch.nn as nn, torchvision\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.backbone = torchvision.models.resnet18()\n"
        "        for p in self.backbone.parameters():\n            p.requires_grad = False\n"
        "        self.head = nn.Linear(1000, 2)\nnet = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad])\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.Adam(m.fc.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\nm.requires_grad_(True)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        # the official tutorial's list of trainable parameters
        "import torch, torchvision\nm = torchvision.models.resnet18()\nfor p in m.parameters():\n"
        "    p.requires_grad = False\nm.fc = torch.nn.Linear(512, 2)\nparams = []\n"
        "for name, p in m.named_parameters():\n    if p.requires_grad:\n        params.append(p)\n"
        "opt = torch.optim.SGD(params, lr=0.001)\n",
        # the user's own module keeps a parameter fixed by design
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(10, 50)\n        self.fc.bias.requires_grad = False\n"
        "net = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built, held in story.holdings():
            freeze = self._still_frozen(story, held, built)
            if freeze is None:
                continue
            model, path = held.located()
            if not story.involves_pretrained_use(model):
                continue  # a parameter kept fixed by the design of the user's own module
            if story.frozen_at(model, path, built) is not None:
                continue  # nothing it holds can train: FL203 says so
            yield ctx.report(
                self, held.node or built.node,
                f"the optimizer receives the parameters frozen on {ctx.where(freeze.node)}: it skips them while "
                "they have no gradient, but once they have one (unfrozen later, or zeroed rather than cleared) "
                "momentum and weight decay move the \"frozen\" weights; pass `filter(lambda p: p.requires_grad, ...)` "
                "or only the parameters that train",
            )

    @staticmethod
    def _still_frozen(story: Story, held: Params, built: Event) -> Event | None:
        """A freeze before the optimizer, on parameters it receives unfiltered, not undone since."""
        if held.filtered:
            return None
        model, path = held.located()
        frozen: Event | None = None
        # A fresh layer replacing what was frozen, or (for a submodule such as `classifier`) a fresh layer inside
        # it: without knowing which children hold parameters, assume the user meant the new head.
        replaced = [
            e for e in story.on(model, [EventKind.HEAD])
            if e.fresh and (covers(e.located()[1], path) or (path and covers(path, e.located()[1])))  # type: ignore[index]
        ]
        for event in sorted([*story.freezes_before(model, path, built), *replaced], key=lambda e: e.order):
            if event.order > built.order:
                break
            event_path = event.located()[1]  # type: ignore[index]
            if event.kind is EventKind.HEAD:
                frozen = None  # a new layer: what it holds is freshly trainable
            elif event.value is False:
                frozen = event
            elif not event.partial and covers(event_path, path):
                frozen = None  # everything it holds was re-enabled
            elif event.value is None:
                return None
        escaped = any(
            frozen is not None and frozen.order < e.order < built.order for e in story.on(model, [EventKind.ESCAPE])
        )
        return None if escaped else frozen
