from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class SingleLrForNewHeadAndBackbone(Rule):
    """
    ## What it does
    Finds one param group that holds both a pretrained backbone (trainable) and a freshly initialised
    head, so both train at the same learning rate. Off by default: it is advice, not a bug. Weights from the
    script's own training checkpoint (a resume) are not pretrained, and a layer a checkpoint loads over after
    it was created is not a new head. Only optimizers built unconditionally are judged (a branch may be the
    one taken for another model).

    ## Why is this bad?
    The random head produces large gradients at first, and at a rate suited to the head they distort the
    pretrained features. A smaller rate for the backbone (discriminative learning rates), or training the
    head alone first and then fine-tuning everything (linear probing, then fine-tuning), usually gives
    better accuracy, especially out of distribution.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.fc = torch.nn.Linear(2048, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.fc = torch.nn.Linear(2048, 10)
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    optimizer = torch.optim.SGD(
        [{"params": backbone, "lr": 1e-3}, {"params": model.fc.parameters(), "lr": 1e-2}], momentum=0.9
    )
    ```
    """

    code = "FL208"
    name = "single-lr-for-new-head-and-backbone"
    severity = Severity.INFO
    default_enabled = False
    summary = "One param group holds both the pretrained backbone and the new head"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.vgg16(weights='DEFAULT')\n"
        "m.classifier[6] = torch.nn.Linear(4096, 2)\nopt = torch.optim.Adam(m.parameters(), lr=1e-4)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        # A resume: the checkpoint the script itself saves (with its optimizer) fills the new head too.
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "opt = torch.optim.Adam(m.parameters())\nstate = torch.load('last.pth')\nm.load_state_dict(state['model'])\n"
        "opt.load_state_dict(state['optimizer'])\nopt2 = torch.optim.Adam(m.parameters())\n"
        "torch.save({'model': m.state_dict(), 'optimizer': opt.state_dict()}, 'last.pth')\n",
        # One branch per model: the single group is for the model trained from scratch.
        "import torch, torchvision\ndef fit(net, group_head=True):\n    if group_head:\n"
        "        opt = torch.optim.SGD([{'params': net.fc.parameters(), 'lr': 0.1}], lr=0.01)\n    else:\n"
        "        opt = torch.optim.SGD(net.parameters(), lr=0.01)\n"
        "tuned = torchvision.models.resnet18(weights='DEFAULT')\ntuned.fc = torch.nn.Linear(512, 2)\nfit(tuned)\n",
        # The user's own network, loaded from a checkpoint after it was built: nothing in it is a new head.
        "import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.main = nn.Sequential(nn.Linear(4, 4))\nnet = Net()\nnet.load_state_dict(torch.load(path))\n"
        "opt = torch.optim.Adam(net.parameters())\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built, held in story.holdings():
            model, path = held.located()
            if held.partial or built.conditional or story.freezes_before(model, path, built):
                continue  # a branch may be the one for another model (advice: only where it surely runs)
            loads = [e for e in story.on(model, [EventKind.LOAD]) if e.order < built.order]
            heads = [
                h for h in story.on(model, [EventKind.HEAD])
                if h.fresh and h.order < built.order and covers(path, h.located()[1]) and h.located()[1] != path  # type: ignore[index]
                # a layer that a checkpoint loads over afterwards is no longer random
                and not any(e.order > h.order and covers(e.located()[1], h.located()[1]) for e in loads)  # type: ignore[index]
            ]
            pretrained = [
                part for part in story.pretrained_parts(model, before=built)
                if covers(path, part) and not any(covers(h.located()[1], part) for h in heads)  # type: ignore[index]
            ]
            if heads and pretrained:
                yield ctx.report(
                    self, held.node or built.node,
                    f"one param group holds the pretrained backbone and the new `{heads[-1].named(ctx.code)}` "
                    f"({ctx.where(heads[-1].node)}): the random head's early gradients disturb the pretrained "
                    "features; give the backbone a smaller lr in its own group, or train the head alone first"
                    + story.path_note(built, heads[-1]),
                )
