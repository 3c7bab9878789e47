from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Story
from featlint.analysis.modes import mode_free
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class EvalModeNotReset(Rule):
    """
    ## What it does
    Finds `model.eval()` inside the epoch loop (usually for validation) when nothing in that loop calls
    `model.train()` again before the next training step. Silent for a model known to have neither dropout
    nor BatchNorm (a torchvision ViT built with its defaults, or the file's own module built only from other
    torch.nn layers), which computes the same thing in both modes.

    ## Why is this bad?
    From the second epoch on the model trains in evaluation mode: dropout is off and BatchNorm uses and
    never updates its running statistics. Training still runs, just worse, and nothing warns you.

    ## Example
    ```python
    import torch

    def fit(model, optimizer, criterion, loader, epochs):
        for epoch in range(epochs):
            for images, labels in loader:
                optimizer.zero_grad()
                criterion(model(images), labels).backward()
                optimizer.step()
            model.eval()
    ```

    ## Use instead
    ```python
    import torch

    def fit(model, optimizer, criterion, loader, epochs):
        for epoch in range(epochs):
            model.train()
            for images, labels in loader:
                optimizer.zero_grad()
                criterion(model(images), labels).backward()
                optimizer.step()
            model.eval()
    ```
    """

    code = "FL506"
    name = "eval-mode-not-reset"
    severity = Severity.WARNING
    summary = "model.eval() in the epoch loop without model.train() before the next training step"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch\nfrom torch import nn\nclass Mlp(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))\n"
        "    def forward(self, x):\n        return self.body(x)\nmodel = Mlp()\nfor epoch in range(3):\n"
        "    for x, y in loader:\n        nn.functional.cross_entropy(model(x), y).backward()\n    model.eval()\n",
        "import torch\ndef fit(model, loss_fn, loader):\n    model.train()\n    for epoch in range(3):\n"
        "        for x, y in loader:\n            loss_fn(model(x), y).backward()\n"
        "        evaluate(model)\n"
        "def evaluate(model):\n    model.eval()\n",
    )
    silent = (
        "import torch\ndef fit(model, loss_fn, loader):\n    for epoch in range(3):\n        model.train()\n"
        "        for x, y in loader:\n            loss_fn(model(x), y).backward()\n        model.eval()\n",
        "import torch\ndef fit(model, loss_fn, loader):\n    for epoch in range(3):\n"
        "        for x, y in loader:\n            loss_fn(model(x), y).backward()\n        model.eval()\n"
        "        model.train()\n",
        "import torch\nfrom helpers import validate\ndef fit(model, loss_fn, loader):\n    for epoch in range(3):\n"
        "        for x, y in loader:\n            loss_fn(model(x), y).backward()\n        model.eval()\n"
        "        validate(model)\n",
        "import torch\ndef predict(model, loader):\n    for x in loader:\n        model.eval()\n        model(x)\n",
        # Neither dropout nor BatchNorm: train and eval mode compute the same thing.
        "import torch, torchvision\nmodel = torchvision.models.vit_b_16(weights='DEFAULT')\nfor epoch in range(3):\n"
        "    for x, y in loader:\n        torch.nn.functional.cross_entropy(model(x), y).backward()\n"
        "    model.eval()\n",
        "import torch\nfrom torch import nn\nclass Mlp(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
        "    def forward(self, x):\n        return self.body(x)\nmodel = Mlp()\nfor epoch in range(3):\n"
        "    for x, y in loader:\n        nn.functional.cross_entropy(model(x), y).backward()\n    model.eval()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        steps = [*story.of(EventKind.BACKWARD), *story.of(EventKind.STEP)]
        for event in story.of(EventKind.MODE):
            if event.value is not False or event.partial or event.model is None:
                continue
            loop = self._training_loop(event, steps)
            if loop is None or self._reset(story, event, loop):
                continue
            analysis = ctx.analysis
            if mode_free(event.located()[0], story, analysis.facts, analysis.names, ctx.module):  # type: ignore[index]
                continue  # no dropout and no BatchNorm: eval() changes nothing
            yield ctx.report(
                self, event.node,
                f"`{ctx.code(event.node)}` runs inside the training loop on {ctx.where(loop)} and nothing calls "
                "`train()` again: from the next epoch on, dropout is off and BatchNorm statistics stay frozen; "
                "call `model.train()` at the start of each epoch" + story.path_note(event),
            )

    @staticmethod
    def _training_loop(event: Event, steps: list[Event]) -> object:
        for loop in reversed(event.loops):
            if any(loop in step.loops for step in steps):
                return loop
        return None

    @staticmethod
    def _reset(story: Story, event: Event, loop: object) -> bool:
        model = event.located()[0]  # type: ignore[index]
        for other in story.on(model, [EventKind.MODE, EventKind.ESCAPE]):
            if loop in other.loops and (other.kind is EventKind.ESCAPE or other.value is not False):
                return True
        return False
