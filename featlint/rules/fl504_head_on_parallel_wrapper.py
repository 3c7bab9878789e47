from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class HeadOnParallelWrapper(Rule):
    """
    ## What it does
    Finds a layer assigned on a `DataParallel` / `DistributedDataParallel` wrapper (`model.fc = ...` after
    `model = nn.DataParallel(model)`) instead of on the model inside it (`model.module.fc`).

    ## Why is this bad?
    The wrapper only forwards to `model.module`. The assignment registers a new, never-called layer on the
    wrapper; the real head is untouched, so the output keeps its old width (1000 ImageNet classes) and the
    new layer never trains. Nothing raises.

    ## Example
    ```python
    import torch
    import torchvision

    model = torch.nn.DataParallel(torchvision.models.resnet18(weights="DEFAULT"))
    model.fc = torch.nn.Linear(512, 10)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    model.fc = torch.nn.Linear(512, 10)
    model = torch.nn.DataParallel(model)
    ```
    """

    code = "FL504"
    name = "head-on-parallel-wrapper"
    severity = Severity.ERROR
    summary = "A head assigned on a DataParallel/DDP wrapper is never called"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n"
        "m = torchvision.models.resnet50()\nm = DDP(m)\nm.fc = torch.nn.Linear(2048, 3)\n",
    )
    silent = (
        "import torch, torchvision\nm = torch.nn.DataParallel(torchvision.models.resnet18())\n"
        "m.module.fc = torch.nn.Linear(512, 3)\n",
        "import torch, torchvision\nm = torch.nn.DataParallel(torchvision.models.resnet18())\nm.note = 'x'\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for event in ctx.analysis.story.of(EventKind.WRAPPER_ASSIGN):
            target = ctx.code(event.node)
            owner, _, attr = target.rpartition(".")
            yield ctx.report(
                self, event.node,
                f"`{target}` is set on the parallel wrapper, which never calls it: the model keeps its old head; "
                f"assign `{owner}.module.{attr}`, or replace the head before wrapping",
            )
