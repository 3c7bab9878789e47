from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class TrainingUnderNoGrad(Rule):
    """
    ## What it does
    Finds `loss.backward()` on a loss computed inside `torch.no_grad()`, `torch.inference_mode()`,
    `torch.set_grad_enabled(False)` or a function decorated with `@torch.no_grad()`.

    ## Why is this bad?
    With gradients disabled the forward pass records no graph, so `backward()` fails with
    `element 0 of tensors does not require grad and does not have a grad_fn`. It usually means the
    training step was pasted into the validation block.

    ## Example
    ```python
    import torch

    def train_step(model, criterion, optimizer, images, labels):
        with torch.no_grad():
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
    ```

    ## Use instead
    ```python
    import torch

    def train_step(model, criterion, optimizer, images, labels):
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
    ```
    """

    code = "FL503"
    name = "training-under-no-grad"
    severity = Severity.ERROR
    summary = "backward() on a loss computed with gradients disabled"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch\nimport torch.nn.functional as F\n@torch.no_grad()\ndef step(model, x, y):\n"
        "    loss = F.cross_entropy(model(x), y)\n    loss.backward()\n",
        "import torch\ncriterion = torch.nn.CrossEntropyLoss()\ndef step(model, x, y):\n"
        "    with torch.inference_mode():\n        criterion(model(x), y).backward()\n",
    )
    silent = (
        # validation under no_grad
        "import torch\ncriterion = torch.nn.CrossEntropyLoss()\ndef run(model, x, y):\n"
        "    loss = criterion(model(x), y)\n    loss.backward()\n    with torch.no_grad():\n"
        "        val = criterion(model(x), y)\n",
        # a frozen backbone's forward under no_grad, then the head outside it
        "import torch\ncriterion = torch.nn.CrossEntropyLoss()\ndef step(backbone, head, x, y):\n"
        "    with torch.no_grad():\n        features = backbone(x)\n    loss = criterion(head(features), y)\n"
        "    loss.backward()\n",
        "import torch\ncriterion = torch.nn.CrossEntropyLoss()\ndef step(model, x, y, train):\n"
        "    with torch.set_grad_enabled(train):\n        loss = criterion(model(x), y)\n        loss.backward()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for event in ctx.analysis.story.of(EventKind.BACKWARD):
            if event.grad_disabled:
                yield ctx.report(
                    self, event.node,
                    "this loss was computed with gradients disabled (no_grad / inference_mode): `backward()` fails "
                    "with `element 0 of tensors does not require grad`; compute the training loss outside the block",
                )
