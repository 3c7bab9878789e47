from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Params, Story, covers, overlaps
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class TrainableNotInOptimizer(Rule):
    """
    ## What it does
    Finds an optimizer built before the model changed under it: a head (or any layer) replaced after
    `SGD(model.parameters())`, or layers unfrozen after the optimizer was built from the trainable
    parameters only (also when the unfreezing happens later, inside the epoch loop), with no new optimizer
    and no `add_param_group` afterwards.

    ## Why is this bad?
    An optimizer holds the parameter tensors it was given when it was built. A new layer's parameters, or
    parameters that were frozen (and so filtered out) at that time, get gradients but are never updated:
    the new head keeps its random weights, and "unfreezing in epoch 5" does nothing. No error is raised.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.fc = torch.nn.Linear(model.fc.in_features, 10)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```
    """

    code = "FL201"
    name = "trainable-not-in-optimizer"
    severity = Severity.ERROR
    summary = "Layers replaced or unfrozen after the optimizer was built are never updated by it"
    requires_tokens = STORY_TOKENS
    fires = (
        # timm's reset_classifier after the optimizer: the new head (`model.head` of a ViT) is not in it
        "import timm, torch\nm = timm.create_model('vit_base_patch16_224', pretrained=True)\n"
        "opt = torch.optim.Adam(m.parameters(), lr=1e-3)\nm.reset_classifier(10)\n",
        # unfreezing inside the epoch loop, optimizer built on the trainable parameters before it
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "for p in m.parameters():\n    p.requires_grad = False\nm.fc = torch.nn.Linear(512, 3)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()), lr=1e-3)\n"
        "for epoch in range(10):\n    if epoch == 5:\n        for p in m.layer4.parameters():\n"
        "            p.requires_grad = True\n    opt.step()\n",
        # the optimizer holds only the head; layer4 is unfrozen later
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "m.requires_grad_(False)\nm.fc = torch.nn.Linear(512, 3)\n"
        "opt = torch.optim.SGD(m.fc.parameters(), lr=0.01)\nm.layer4.requires_grad_(True)\n",
        # inside functions, the model passed around
        "import torch, torchvision\n"
        "def make_optimizer(model):\n    return torch.optim.SGD(model.parameters(), lr=0.01)\n"
        "def main():\n    model = torchvision.models.resnet50(weights=None)\n    opt = make_optimizer(model)\n"
        "    model.fc = torch.nn.Linear(2048, 5)\n    return opt\nmain()\n",
        # a model wrapped in the user's own module
        "import torch, torchvision\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.backbone = torchvision.models.resnet18()\n"
        "net = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\nnet.backbone.fc = torch.nn.Linear(512, 2)\n",
    )
    silent = (
        # an optimizer rebuilt after the change
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "m.fc = torch.nn.Linear(512, 3)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
        # add_param_group with the unfrozen parameters
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 3)\nopt = torch.optim.SGD(m.fc.parameters(), lr=0.01)\n"
        "m.layer4.requires_grad_(True)\nopt.add_param_group({'params': m.layer4.parameters(), 'lr': 1e-4})\n",
        # rebuilt inside the same loop, after the unfreezing of an earlier epoch
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "for epoch in range(10):\n    opt = torch.optim.SGD(filter(lambda p: p.requires_grad, m.parameters()), lr=0.01)\n"
        "    if epoch == 5:\n        m.layer4.requires_grad_(True)\n",
        # unfrozen params were never frozen, and the optimizer holds all of them
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.01)\n"
        "m.layer4.requires_grad_(True)\n",
        # the optimizer is handed to code the file does not show after the change
        "import torch, torchvision\nfrom trainer import fit\nm = torchvision.models.resnet18()\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\nm.fc = torch.nn.Linear(512, 3)\nfit(m, opt)\n",
        # head replaced before the optimizer
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 3)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built in story.of(EventKind.OPTIMIZER):
            optimizer = built.optimizer
            assert optimizer is not None, "an OPTIMIZER event without its optimizer"
            if not optimizer.known:
                continue
            held = list(optimizer.holdings())
            models = {p.located()[0] for p in held}
            for model in models:
                for change in story.on(model, [EventKind.HEAD, EventKind.FREEZE]):
                    if change.order <= built.order or not self._missed(story, change, built, held):
                        continue
                    if not story.alive_at(built, change):
                        continue  # the optimizer lived in a function that has returned
                    if story.rebuilt_after(model, change) or story.group_added_after(optimizer, change):
                        continue
                    yield self._report(ctx, change, built)

    @staticmethod
    def _missed(story: Story, change: Event, built: Event, held: list[Params]) -> bool:
        """The change creates or re-enables parameters that the optimizer does not hold."""
        located = change.located()
        assert located is not None, f"a {change.kind.name} event without the model it changes"
        model, path = located
        mine = [p for p in held if p.located()[0] is model]
        if any(p.partial for p in mine):
            return False  # a selection by name or slice: cannot tell what it holds
        if change.kind is EventKind.HEAD:
            if not change.has_params:
                return False
            # A new layer under a held path (but not the held path itself, which is FL205's stale head).
            return any(covers(p.located()[1], path) and p.located()[1] != path for p in mine)
        if change.value is not True:
            return False
        covering = [p for p in mine if covers(p.located()[1], path)]
        if covering:  # held, unless taken through a requires_grad filter while certainly frozen
            return all(p.filtered and story.frozen_at(model, path, built) is not None for p in covering)
        if any(overlaps(p.located()[1], path) for p in mine):
            return not change.partial  # a selection under `path` may be exactly what the optimizer holds
        return True

    def _report(self, ctx: FileContext, change: Event, built: Event) -> Diagnostic:
        line = ctx.where(built.node)
        if change.kind is EventKind.HEAD:
            what = (f"`{change.named(ctx.code)}` is replaced after the optimizer on {line} was built: its new "
                    "parameters get gradients but are never updated")
            fix = "build the optimizer after replacing the layer"
        else:
            what = (f"these parameters are unfrozen after the optimizer on {line} was built without them: they "
                    "get gradients but are never updated, so they stay as frozen as before")
            fix = "build a new optimizer afterwards or add them with `optimizer.add_param_group`"
        return ctx.report(self, change.node, f"{what}; {fix}")
