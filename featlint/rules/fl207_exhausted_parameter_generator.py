from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.calls import argument
from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class ExhaustedParameterGenerator(Rule):
    """
    ## What it does
    Finds a `parameters()` generator (or a `filter(...)` / generator expression over it) stored in a
    variable, consumed once (counted, listed, iterated, or given to a first optimizer), and then handed
    to an optimizer.

    ## Why is this bad?
    A generator can be iterated only once. The second consumer gets nothing: the optimizer raises
    `ValueError: optimizer got an empty parameter list`, or, when it is one group among several, that
    group silently trains nothing.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    params = filter(lambda p: p.requires_grad, model.parameters())
    print("trainable:", sum(p.numel() for p in params))
    optimizer = torch.optim.SGD(params, lr=0.01)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    params = [p for p in model.parameters() if p.requires_grad]
    print("trainable:", sum(p.numel() for p in params))
    optimizer = torch.optim.SGD(params, lr=0.01)
    ```
    """

    code = "FL207"
    name = "exhausted-parameter-generator"
    severity = Severity.ERROR
    summary = "A parameters() generator consumed once, then given to the optimizer: it is empty"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nparams = m.parameters()\n"
        "n = len(list(params))\nopt = torch.optim.SGD(params, lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nparams = m.fc.parameters()\n"
        "for p in params:\n    p.requires_grad = True\nopt = torch.optim.SGD(params, lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nhead = m.fc.parameters()\nprint(list(head))\n"
        "opt = torch.optim.SGD([{'params': m.layer4.parameters()}, {'params': head, 'lr': 0.1}], lr=0.01)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nparams = list(m.parameters())\n"
        "n = len(params)\nopt = torch.optim.SGD(params, lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nparams = m.parameters()\n"
        "opt = torch.optim.SGD(params, lr=0.1)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nprint(m.parameters())\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for event in story.of(EventKind.EXHAUSTED):
            assert event.related is not None, "an EXHAUSTED event without the line that consumed the generator"
            whole = any(argument(built.node, 0, "params") is event.node  # type: ignore[arg-type]
                        for built in story.of(EventKind.OPTIMIZER))
            effect = (
                "the optimizer receives an empty iterable and its constructor raises `ValueError: optimizer got an "
                "empty parameter list`" if whole else
                "this param group receives nothing, so those parameters are never updated"
            )
            yield ctx.report(
                self, event.node,
                f"this parameter generator was already consumed on {ctx.where(event.related)}: {effect}; "
                "store a list, e.g. `list(model.parameters())`",
            )
