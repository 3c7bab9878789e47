from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind, overlaps
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class FrozenRandomBackbone(Rule):
    """
    ## What it does
    Finds a torchvision model built without weights (`weights=None`, no `weights=` at all, or
    `pretrained=False`) that is then frozen, when no `load_state_dict` fills it anywhere in the file.

    ## Why is this bad?
    Freezing makes sense for pretrained features. On a randomly initialised backbone it leaves a linear
    head training on random features: accuracy stays near chance and no error is raised.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50()
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(2048, 10)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.DEFAULT)
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(2048, 10)
    ```
    """

    code = "FL803"
    name = "frozen-random-backbone"
    severity = Severity.WARNING
    summary = "A backbone built without pretrained weights is frozen: the head trains on random features"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torchvision\nm = torchvision.models.vgg16(pretrained=False)\nm.features.requires_grad_(False)\n",
        "from torchvision import models\nm = models.get_model('resnet18', weights=None)\n"
        "for name, p in m.named_parameters():\n    if 'fc' not in name:\n        p.requires_grad = False\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "m.load_state_dict(torch.load('w.pth'))\n",
        "import torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.requires_grad_(False)\n",
        "import torchvision\nm = torchvision.models.resnet18(weights=weights)\nm.requires_grad_(False)\n",
        "import torchvision\nfrom utils import load_checkpoint\nm = torchvision.models.resnet18()\n"
        "load_checkpoint(m)\nm.requires_grad_(False)\n",
        "import torchvision\nm = torchvision.models.resnet18()\nif args.freeze:\n    m.requires_grad_(False)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built in story.of(EventKind.BUILD):
            model = built.model
            if model is None or model.builder is None or model.pretrained is not False:
                continue
            root, path = model.root()
            events = story.on(root, [EventKind.LOAD, EventKind.ESCAPE, EventKind.FREEZE])
            if any(e.kind is not EventKind.FREEZE and overlaps(e.located()[1], path) for e in events):  # type: ignore[index]
                continue
            for freeze in events:
                if freeze.kind is EventKind.FREEZE and freeze.value is False and not freeze.conditional:
                    if overlaps(freeze.located()[1], path) and not self._new_layer(story, root, freeze):  # type: ignore[index]
                        yield ctx.report(
                            self, freeze.node,
                            f"freezes a {model.builder.name} built without pretrained weights on "
                            f"{ctx.where(built.node)}, and nothing loads any: the head trains on random features; "
                            "pass `weights=...DEFAULT` or load a checkpoint" + story.path_note(freeze, built),
                        )
                        break

    @staticmethod
    def _new_layer(story, root, freeze) -> bool:  # type: ignore[no-untyped-def]
        path = freeze.located()[1]
        return bool(path) and any(
            h.order < freeze.order and h.located()[1] == path[: len(h.located()[1])]
            for h in story.on(root, [EventKind.HEAD])
        )
