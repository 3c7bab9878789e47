from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class LossRequiresGradPatch(Rule):
    """
    ## What it does
    Finds `loss.requires_grad = True` or `loss.requires_grad_()` on a loss tensor.

    ## Why is this bad?
    It is the popular "fix" for `element 0 of tensors does not require grad and does not have a grad_fn`.
    The error goes away, but `backward()` then starts from a leaf with no graph behind it: no parameter
    receives a gradient and nothing trains. The real cause is upstream: everything frozen, a head frozen
    after it was replaced, or the forward pass run under `torch.no_grad()`.

    ## Example
    ```python
    import torch

    criterion = torch.nn.CrossEntropyLoss()

    def step(model, images, labels):
        loss = criterion(model(images), labels)
        loss.requires_grad = True
        loss.backward()
    ```

    ## Use instead
    ```python
    import torch

    criterion = torch.nn.CrossEntropyLoss()

    def step(model, images, labels):
        loss = criterion(model(images), labels)
        loss.backward()
    ```
    """

    code = "FL505"
    name = "loss-requires-grad-patch"
    severity = Severity.ERROR
    summary = "requires_grad forced on a loss hides that nothing upstream trains"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch.nn.functional as F\ndef step(model, x, y):\n    loss = F.cross_entropy(model(x), y)\n"
        "    loss.requires_grad_()\n    loss.backward()\n",
        "import torch\ntrain_loss = compute()\ntrain_loss.requires_grad = True\n",
    )
    silent = (
        "import torch\nx = torch.randn(3)\nx.requires_grad = True\n",
        "import torch\nimages = torch.randn(1, 3, 8, 8)\nimages.requires_grad_()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for event in ctx.analysis.story.of(EventKind.LOSS_PATCH):
            yield ctx.report(
                self, event.node,
                "forcing `requires_grad` on the loss silences the error but no parameter gets a gradient and "
                "nothing trains; find what is frozen or run under no_grad upstream",
            )
