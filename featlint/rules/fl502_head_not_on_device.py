from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.calls import argument, string_literal
from featlint.analysis.story import STORY_TOKENS, EventKind, covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class HeadNotOnDevice(Rule):
    """
    ## What it does
    Finds a new layer assigned to a model after the model was moved to a device (`model.to(device)`,
    `model.cuda()`), when neither the layer nor the model is moved afterwards.

    ## Why is this bad?
    `.to(device)` moves the parameters that exist at that moment. A layer created later lives on the CPU,
    so the first forward pass on the GPU fails with `Expected all tensors to be on the same device` (or
    `Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the same`).

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.to("cuda")
    model.fc = torch.nn.Linear(512, 10)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    model.to("cuda")
    ```
    """

    code = "FL502"
    name = "head-not-on-device"
    severity = Severity.ERROR
    summary = "A layer assigned after the model moved to a device stays on the CPU"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\ndevice = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "m = torchvision.models.resnet18().to(device)\nm.fc = torch.nn.Linear(512, 2)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm = m.cuda()\n"
        "m.classifier = torch.nn.Sequential(torch.nn.Linear(512, 2))\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to('cuda')\n"
        "m.fc = torch.nn.Linear(512, 2).to('cuda')\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to('cuda')\n"
        "m.fc = torch.nn.Linear(512, 2, device='cuda')\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to('cuda')\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.to('cuda')\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to('cpu')\nm.fc = torch.nn.Linear(512, 2)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to(torch.float16)\nm.fc = torch.nn.Linear(512, 2)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.to('cuda')\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.fc.cuda()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for head in story.of(EventKind.HEAD):
            if head.on_device or not head.has_params:
                continue
            model, path = head.located()  # type: ignore[misc]
            moves = story.on(model, [EventKind.MOVE, EventKind.ESCAPE])
            before = [m for m in moves if m.order < head.order and m.kind is EventKind.MOVE and not m.located()[1]]  # type: ignore[index]
            after = [m for m in moves if m.order > head.order and covers(m.located()[1], path)]  # type: ignore[index]
            if before and not after:
                move = before[-1].node
                yield ctx.report(
                    self, head.node,
                    f"`{head.named(ctx.code)}` is created after the model was moved on {ctx.where(move)} and stays "
                    f"on the CPU: {_when(ctx, move)}the forward pass fails with `Expected all tensors to be on the same "
                    "device`; move the model after replacing the layer, or create it with `.to(device)`"
                    + story.path_note(head, before[-1]),
                )


def _when(ctx: FileContext, move: cst.CSTNode) -> str:
    """Empty when the move is certainly to an accelerator (`.cuda()`, `.to("cuda")`); otherwise the condition
    under which the forward fails (`device` may be the CPU, where the new layer is fine)."""
    if isinstance(move, cst.Call) and isinstance(move.func, cst.Attribute):
        if move.func.attr.value == "cuda":
            return ""
        target = argument(move, 0, "device")
        text = string_literal(target)
        if text is not None and text.startswith(("cuda", "mps", "xpu")):
            return ""
        if target is not None:
            return f"when `{ctx.code(target)}` is a GPU, "
    return "on a GPU, "
