from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.rules.fl401_extreme_learning_rate import DEFAULT_MAX_LR

# From-scratch learning rates: at or above these, fine-tuning wipes out the pretrained features.
SCRATCH_LR = {"SGD": 0.1, "Adam": 1e-2, "AdamW": 1e-2, "NAdam": 1e-2, "RAdam": 1e-2, "Adamax": 1e-2, "RMSprop": 1e-2}


class HighFinetuneLearningRate(Rule):
    """
    ## What it does
    Finds pretrained backbone parameters left trainable and optimized at a learning rate typical of
    training from scratch: SGD at 0.1 or more, Adam-family optimizers and RMSprop at 1e-2 or more.

    ## Why is this bad?
    Those rates are for random weights. On pretrained weights the first updates are large enough to destroy
    the features you wanted to reuse: the loss may even diverge, and the run ends up no better than
    training from scratch. Fine-tuning rates are usually 10-100x smaller for the backbone.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.fc = torch.nn.Linear(2048, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50(weights="DEFAULT")
    model.fc = torch.nn.Linear(2048, 10)
    backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    optimizer = torch.optim.SGD(
        [{"params": backbone, "lr": 1e-3}, {"params": model.fc.parameters(), "lr": 0.1}], momentum=0.9
    )
    ```
    """

    code = "FL402"
    name = "high-finetune-learning-rate"
    severity = Severity.WARNING
    summary = "A pretrained backbone optimized at a from-scratch learning rate"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "opt = torch.optim.Adam(m.parameters(), lr=0.01)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.load_state_dict(torch.load('w.pth'))\n"
        "opt = torch.optim.SGD(m.layer4.parameters(), lr=0.1)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18(weights=None)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.fc = torch.nn.Linear(512, 2)\n"
        "opt = torch.optim.SGD(m.fc.parameters(), lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.01)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "opt = torch.optim.SGD(m.parameters(), lr=10)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built in story.of(EventKind.OPTIMIZER):
            optimizer = built.optimizer
            assert optimizer is not None, "an OPTIMIZER event without its optimizer"
            floor = SCRATCH_LR.get(optimizer.klass)
            if floor is None:
                continue
            for group in optimizer.groups:
                number = ctx.analysis.values.number(group.lr, optimizer.scope) if group.lr is not None else None
                if number is None or not floor <= number.value <= DEFAULT_MAX_LR.get(optimizer.klass, 1.0):
                    continue  # above the ceiling FL401 reports it
                held = next((p for p in group.params or () if story.trains_pretrained(p, built)), None)
                if held is None:
                    continue
                yield ctx.report(
                    self, group.lr,
                    f"lr={number.value:g} is a from-scratch rate, and `{ctx.code(held.node or group.node)}` includes "
                    "pretrained layers: fine-tuning at this rate destroys the pretrained features; give the "
                    "backbone its own param group with a 10-100x smaller lr" + story.path_note(built),
                )
