from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class EmptyOptimizer(Rule):
    """
    ## What it does
    Finds an optimizer that can receive no trainable parameter: everything it is given was frozen before
    it was built, and no new head was added or re-enabled in between.

    ## Why is this bad?
    Filtered on `requires_grad`, the optimizer gets an empty list and raises
    `ValueError: optimizer got an empty parameter list`; unfiltered, it holds only frozen tensors and
    `loss.backward()` fails with `element 0 of tensors does not require grad`, or nothing trains at all.
    The usual cause is freezing the whole model after replacing its head, or before adding it.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    for param in model.parameters():
        param.requires_grad = False
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)
    ```
    """

    code = "FL203"
    name = "empty-optimizer"
    severity = Severity.ERROR
    summary = "The optimizer can receive no trainable parameter: everything it gets was frozen"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.requires_grad_(False)\nopt = torch.optim.Adam(m.fc.parameters())\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "m.fc.requires_grad_(True)\nopt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nif freeze:\n    m.requires_grad_(False)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()))\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built in story.of(EventKind.OPTIMIZER):
            optimizer = built.optimizer
            assert optimizer is not None, "an OPTIMIZER event without its optimizer"
            held = list(optimizer.holdings())
            if not optimizer.known or not held:
                continue
            freezes = [story.frozen_at(*p.located(), built) for p in held]
            if any(freeze is None for freeze in freezes):
                continue
            nodes = sorted({ctx.line(f.node): f.node for f in freezes if f is not None}.items())
            where = ", ".join(ctx.where(node) for _, node in nodes)
            consequence = (
                "`ValueError: optimizer got an empty parameter list`"
                if all(p.filtered for p in held) else "nothing trains (`element 0 of tensors does not require grad`)"
            )
            yield ctx.report(
                self, built.node,
                f"every parameter this optimizer receives was frozen ({where}): {consequence}; "
                "freeze before replacing the head, or re-enable the layers that should train" + story.path_note(built),
            )
