from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class PretrainedWeightsReinitialised(Rule):
    """
    ## What it does
    Finds a re-initialisation applied to a model that holds pretrained weights: `model.apply(init_fn)` with
    an init function of the file, or `nn.init.*` over `model.modules()` / `model.parameters()`, after the
    weights were requested at build time or loaded with `load_state_dict`.

    ## Why is this bad?
    The initialiser overwrites the pretrained backbone too, so the "fine-tuning" run starts from random
    weights and behaves like training from scratch, without any error.

    ## Example
    ```python
    import torch
    import torchvision

    def init_weights(module):
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(module.weight)

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    model.apply(init_weights)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    def init_weights(module):
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(module.weight)

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    model.fc.apply(init_weights)
    ```
    """

    code = "FL802"
    name = "pretrained-weights-reinitialised"
    severity = Severity.WARNING
    summary = "A re-initialisation overwrites the pretrained weights"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.backbone = torchvision.models.resnet18(weights='DEFAULT')\n"
        "        self.head = torch.nn.Linear(1000, 2)\n"
        "        for m in self.modules():\n            if isinstance(m, torch.nn.Conv2d):\n"
        "                torch.nn.init.kaiming_normal_(m.weight)\nNet()\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.load_state_dict(torch.load('w.pth'))\n"
        "for p in m.parameters():\n    torch.nn.init.normal_(p)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "m.fc = torch.nn.Linear(512, 2)\ntorch.nn.init.zeros_(m.fc.bias)\n",
        "import torch, torchvision\ndef init(mod):\n    torch.nn.init.zeros_(mod.weight)\n"
        "m = torchvision.models.resnet18()\nm.apply(init)\n",
        "import torch, torchvision\ndef init(mod):\n    torch.nn.init.zeros_(mod.weight)\n"
        "m = torchvision.models.resnet18()\nm.apply(init)\nm.load_state_dict(torch.load('w.pth'))\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for event in story.of(EventKind.INIT):
            model, path = event.located()  # type: ignore[misc]
            parts = story.pretrained_parts(model, before=event)
            hit = [part for part in parts if covers(path, part) or covers(part, path)]
            if not hit or self._only_new_layers(story, model, path, event):
                continue
            yield ctx.report(
                self, event.node,
                "this re-initialisation also overwrites the pretrained weights, so training starts from random "
                "features; initialise only the new layers (e.g. `model.fc.apply(init_fn)`)" + story.path_note(event),
            )

    @staticmethod
    def _only_new_layers(story, model, path, event) -> bool:  # type: ignore[no-untyped-def]
        """Initialising a layer that was itself replaced after the weights were loaded."""
        for head in story.on(model, [EventKind.HEAD]):
            if head.fresh and head.order < event.order and path and covers(head.located()[1], path):
                return True
        return False
