from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind, covers, overlaps
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class FrozenAfterOptimizer(Rule):
    """
    ## What it does
    Finds parameters frozen (`requires_grad = False`, `requires_grad_(False)`) after the optimizer that
    holds them was built, including a freeze inside the epoch loop, when no new optimizer follows; not once
    training is over (a step, a backward or a training function ran before the freeze, and nothing trains
    after it).

    ## Why is this bad?
    Freezing only stops new gradients. The optimizer still holds the parameters and their momentum and
    weight-decay state: with `zero_grad(set_to_none=False)` (the default before PyTorch 2.0, and still
    common) the zeroed gradients keep driving momentum and decoupled weight decay, so the "frozen" layers
    keep drifting. Freeze first, then build the optimizer from what trains.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.layer1.requires_grad_(False)
    for images, labels in loader:
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.layer1.requires_grad_(False)
    optimizer = torch.optim.SGD(
        filter(lambda p: p.requires_grad, model.parameters()), lr=0.01, momentum=0.9
    )
    for images, labels in loader:
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    ```
    """

    code = "FL204"
    name = "frozen-after-optimizer"
    severity = Severity.WARNING
    summary = "Parameters frozen after the optimizer holding them was built keep optimizer state and can drift"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "for epoch in range(10):\n    if epoch == 2:\n        for p in m.layer1.parameters():\n"
        "            p.requires_grad = False\n    opt.step()\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.fc.parameters(), lr=0.1)\n"
        "m.layer1.requires_grad_(False)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "m.layer1.requires_grad_(False)\nopt = torch.optim.SGD(filter(lambda p: p.requires_grad, m.parameters()), lr=0.1)\n",
        # frozen after the optimizer's last step (training is over)
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "for epoch in range(10):\n    opt.step()\nm.requires_grad_(False)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built, held in story.holdings():
            model, held_path = held.located()
            if not story.involves_pretrained_use(model):
                continue
            for freeze in story.on(model, [EventKind.FREEZE]):
                path = freeze.located()[1]  # type: ignore[index]
                if freeze.value is not False or freeze.order <= built.order or not overlaps(held_path, path):
                    continue
                if not story.alive_at(built, freeze):
                    continue  # the optimizer lived in a function that has returned
                if held.filtered and story.frozen_at(model, path, built) is not None:
                    continue  # already frozen when the optimizer was built: it does not hold them
                if not covers(held_path, path) and held.partial:
                    continue
                if story.rebuilt_after(model, freeze) or story.training_over(freeze, model):
                    continue
                yield ctx.report(
                    self, freeze.node,
                    f"frozen after the optimizer on {ctx.where(built.node)} was built with these parameters: "
                    "it keeps their momentum and weight-decay state, so they can keep moving; freeze before "
                    "building the optimizer, or rebuild it from the trainable parameters"
                    + story.path_note(freeze, built),
                )
                break
