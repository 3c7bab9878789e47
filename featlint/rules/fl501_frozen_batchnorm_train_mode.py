from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.scopes import method_of
from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Model, Story, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class FrozenBatchnormTrainMode(Rule):
    """
    ## What it does
    Finds a backbone with BatchNorm layers frozen through `requires_grad`, then put in training mode by
    `model.train()` with no BatchNorm `eval()` afterwards. Off by default: some recipes want the statistics
    to adapt. It knows which torchvision architectures have BatchNorm (ViT, Swin and ConvNeXt use
    LayerNorm and are left alone).

    ## Why is this bad?
    `requires_grad=False` freezes BatchNorm's weight and bias, not its running mean and variance: those are
    buffers that every forward pass in training mode updates. The "frozen" backbone keeps changing, and
    after fine-tuning on small batches of a different domain its statistics no longer match the
    pretrained weights.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.requires_grad_(False)
    model.fc = torch.nn.Linear(2048, 10)
    model.train()
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.requires_grad_(False)
    model.fc = torch.nn.Linear(2048, 10)
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
    ```
    """

    code = "FL501"
    name = "frozen-batchnorm-train-mode"
    severity = Severity.WARNING
    default_enabled = False
    summary = "A frozen backbone's BatchNorm statistics keep updating in train mode"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torchvision\nm = torchvision.models.mobilenet_v2(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('classifier'):\n"
        "        p.requires_grad = False\nfor epoch in range(3):\n    m.train()\n",
    )
    silent = (
        "import torchvision\nm = torchvision.models.vit_b_16(weights='DEFAULT')\nm.requires_grad_(False)\nm.train()\n",
        "import torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.train()\n",
        "import torch, torchvision\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.backbone = torchvision.models.resnet18(weights='DEFAULT')\n"
        "        self.backbone.requires_grad_(False)\n"
        "    def train(self, mode=True):\n        super().train(mode)\n        self.backbone.eval()\n        return self\n"
        "net = Net()\nnet.train()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for mode in story.of(EventKind.MODE):
            if mode.value is not True or mode.partial or mode.model is None:
                continue
            model, path = mode.located()  # type: ignore[misc]
            if path or (model.user_class is not None and method_of(model.user_class, "train") is not None):
                continue
            freeze = self._frozen_batchnorm(story, model, mode)
            if freeze is None or self._reset_after(story, model, mode):
                continue
            yield ctx.report(
                self, mode.node,
                f"`{ctx.code(mode.node)}` also puts the BatchNorm layers frozen on {ctx.where(freeze.node)} in "
                "training mode: their running statistics keep changing; call `.eval()` on the BatchNorm modules "
                "after `train()`" + story.path_note(mode, freeze),
            )

    @staticmethod
    def _frozen_batchnorm(story: Story, model: Model, mode: Event) -> Event | None:
        parts = [
            m.root()[1] for m in story.models
            if m.root()[0] is model and m.builder is not None
            and (arch := tv.architecture(m.builder)) is not None and arch.batchnorm
        ]
        for freeze in story.on(model, [EventKind.FREEZE, EventKind.ESCAPE]):
            if freeze.order > mode.order:
                break
            if freeze.kind is EventKind.ESCAPE:
                return None
            path = freeze.located()[1]  # type: ignore[index]
            whole = not freeze.partial or freeze.selector is not None  # "all but the head" by name
            if freeze.value is False and not freeze.conditional and whole and any(covers(path, p) for p in parts):
                return freeze
        return None

    @staticmethod
    def _reset_after(story: Story, model: Model, mode: Event) -> bool:
        return any(
            e.order > mode.order and (e.kind is EventKind.ESCAPE or (e.partial and e.value is False))
            for e in story.on(model, [EventKind.MODE, EventKind.ESCAPE])
        ) or any(
            e.partial and e.value is False and any(loop in e.loops for loop in mode.loops)
            for e in story.on(model, [EventKind.MODE])
        )
