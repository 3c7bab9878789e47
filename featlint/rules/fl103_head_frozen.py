from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Model, Path, Story, covers, overlaps
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class HeadFrozen(Rule):
    """
    ## What it does
    Finds a freeze that covers a head replaced before it: every parameter of the model frozen after
    `model.fc = nn.Linear(...)`, or the new head frozen explicitly, with nothing re-enabling it afterwards,
    unless the freeze comes after the training is over (a step, a backward or a training function ran before
    it, and nothing trains after it).

    ## Why is this bad?
    New layers are created trainable; freezing the whole model afterwards freezes the head too, so nothing
    trains (freezing only the new head, or a container of it, leaves that layer at its random weights). When
    nothing at all requires a gradient, the step fails with `element 0 of tensors does not require grad and
    does not have a grad_fn`, or an optimizer filtered on `requires_grad` raises `optimizer got an empty
    parameter list`. A freeze after training is over (nothing trains the model afterwards) is not reported.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    for param in model.parameters():
        param.requires_grad = False
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

    code = "FL103"
    name = "head-frozen"
    severity = Severity.ERROR
    summary = "The whole model (or the new head) is frozen after the head was replaced: nothing trains"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.vgg16()\nm.classifier[6] = torch.nn.Linear(4096, 2)\n"
        "m.requires_grad_(False)\nopt = torch.optim.SGD(m.parameters(), lr=0.01)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.fc.requires_grad_(False)\nopt = torch.optim.SGD(m.parameters(), lr=0.01)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.requires_grad_(False)\nm.fc.requires_grad_(True)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('fc'):\n        p.requires_grad = False\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.layer1.requires_grad_(False)\n",
        # frozen after the last training step (a notebook's final cell): nothing trains afterwards anyway
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.fc = torch.nn.Linear(512, 2)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.01)\nfor x, y in loader:\n"
        "    torch.nn.functional.cross_entropy(m(x), y).backward()\n    opt.step()\nm.requires_grad_(False)\n",
        # one parameter of a layer kept fixed on purpose: the layer still trains
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(10, 50)\n        self.fc.bias.requires_grad = False\nNet()\n",
        # frozen once training is over (before saving or inspecting it), and nothing trains it afterwards
        "import torch, torchvision\nfrom helpers import fit\nm = torchvision.models.resnet18()\n"
        "m.fc = torch.nn.Linear(512, 2)\nfit(m, torch.optim.SGD(m.parameters(), lr=0.01))\n"
        "m.requires_grad_(False)\ntorch.save(m, 'm.pt')\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for head in story.of(EventKind.HEAD):
            if not head.fresh or head.constructed:
                continue  # a pretrained model, a layer without parameters, or a layer of the user's own design
            model, head_path = head.located()  # type: ignore[misc]
            for freeze in story.on(model, [EventKind.FREEZE]):
                path = freeze.located()[1]  # type: ignore[index]
                if freeze.order <= head.order or freeze.value is not False or freeze.conditional:
                    continue
                if freeze.partial or not covers(path, head_path):
                    continue
                if self._re_enabled(story, freeze, head_path) or story.training_over(freeze, model):
                    continue
                yield ctx.report(
                    self, freeze.node,
                    self._message(ctx, story, freeze, head, path, head_path) + story.path_note(freeze, head),
                )
                break

    @staticmethod
    def _message(ctx: FileContext, story: Story, freeze: Event, head: Event, path: Path, head_path: Path) -> str:
        """What was frozen (the head alone, a container of it, the whole model) and whether anything else can
        still train: "nothing trains" only when the whole model is frozen and nothing is re-enabled later."""
        new = f"the new `{head.named(ctx.code)}` (replaced on {ctx.where(head.node)})"
        if path == head_path:
            return (
                f"this freezes {new}: its random weights never train; remove this freeze, or freeze only the "
                "layers before it"
            )
        model = freeze.located()[0]  # type: ignore[index]
        later_unfreeze = any(
            later.order > freeze.order and later.value is not False for later in story.on(model, [EventKind.FREEZE])
        )
        what = "the whole model" if not path else f"`{'.'.join(path)}`"
        effect = "nothing trains" if not path and not later_unfreeze else "its random weights never train"
        return (
            f"this freezes {what}, {new} included: {effect}; freeze before replacing the head, or re-enable the "
            "head afterwards"
        )

    @staticmethod
    def _re_enabled(story: Story, freeze: Event, head_path: tuple[str, ...]) -> bool:
        model = freeze.located()[0]  # type: ignore[index]
        for later in story.on(model, [EventKind.FREEZE, EventKind.HEAD, EventKind.ESCAPE]):
            if later.order <= freeze.order:
                continue
            path = later.located()[1]  # type: ignore[index]
            if later.kind is EventKind.ESCAPE or (later.value is not False and overlaps(path, head_path)):
                return True
        return False
