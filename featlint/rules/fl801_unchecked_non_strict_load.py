from __future__ import annotations

import re
from collections.abc import Iterator

from featlint.analysis.scopes import Scope
from featlint.analysis.story import STORY_TOKENS, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# The names of a key comparison written by hand: `missing_keys = [k for k in model_keys if k not in loaded]`.
_KEY_CHECK = re.compile(r"(^|_)(missing|unexpected)(_|$)")


class UncheckedNonStrictLoad(Rule):
    """
    ## What it does
    Finds `load_state_dict(..., strict=False)` whose result, the missing and unexpected keys, is thrown
    away. A resume is left alone: a load next to the optimizer's (or scheduler's) own `load_state_dict`, in a
    script that saves its checkpoints with `torch.save`, reads back keys the script itself wrote. So is a
    function that compares the keys itself, before or after the load: one that binds `missing_keys` or
    `unexpected_keys` (or `missing`/`unexpected`), as loaders that stream a checkpoint shard by shard do.

    ## Why is this bad?
    With `strict=False` a checkpoint whose keys do not match (a `module.` prefix from DataParallel, a
    renamed backbone attribute) loads nothing and raises nothing. The run then trains from random weights
    while you believe it fine-tunes. The returned keys are the only evidence.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50()
    model.load_state_dict(torch.load("checkpoint.pth"), strict=False)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet50()
    result = model.load_state_dict(torch.load("checkpoint.pth"), strict=False)
    assert not result.missing_keys, result.missing_keys
    ```
    """

    code = "FL801"
    name = "unchecked-non-strict-load"
    severity = Severity.WARNING
    summary = "load_state_dict(strict=False) whose missing/unexpected keys are ignored"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch\nstate = torch.load('w.pth')\nnet = build()\nnet.load_state_dict(state, strict=False)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\n_ = m.load_state_dict({}, False)\n",
        # Pretrained weights loaded in one function; the script's own checkpoints are saved and resumed elsewhere.
        "import torch, torchvision\ndef build():\n    m = torchvision.models.resnet18()\n"
        "    m.load_state_dict(torch.load('imagenet.pth'), strict=False)\n    return m\n"
        "def resume(m, opt, path):\n    state = torch.load(path)\n    m.load_state_dict(state['model'])\n"
        "    opt.load_state_dict(state['optimizer'])\n"
        "def save(m, opt, path):\n    torch.save({'model': m.state_dict(), 'optimizer': opt.state_dict()}, path)\n",
        # Keys compared in another function do not check this load.
        "import torch\ndef check(model, names):\n    missing_keys = set(model.state_dict()) - set(names)\n"
        "    return missing_keys\ndef load(model, path):\n"
        "    model.load_state_dict(torch.load(path), strict=False)\n",
    )
    silent = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nprint(m.load_state_dict({}, strict=False))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.load_state_dict({})\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.load_state_dict({}, strict=strict)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\n"
        "missing, unexpected = m.load_state_dict({}, strict=False)\n",
        # A resume: the script reads back its own checkpoint, weights and optimizer state, whose keys it wrote.
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "def resume(path):\n    state = torch.load(path)\n    m.load_state_dict(state['model'], strict=False)\n"
        "    opt.load_state_dict(state['optimizer'])\n"
        "def save(path):\n    torch.save({'model': m.state_dict(), 'optimizer': opt.state_dict()}, path)\n",
        # The keys compared by hand before the shards are loaded one by one.
        "import torch\ndef load_shards(model, shards, names):\n    model_keys = model.state_dict().keys()\n"
        "    missing_keys = [k for k in model_keys if k not in names]\n    if missing_keys:\n"
        "        raise KeyError(missing_keys)\n    for shard in shards:\n"
        "        model.load_state_dict(torch.load(shard), strict=False)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for event in ctx.analysis.story.of(EventKind.LOAD):
            if event.strict is False and not event.result_used and not event.resume and not _keys_checked(
                    ctx.analysis.facts.scope_of_call(event.node)):
                yield ctx.report(
                    self, event.node,
                    "`strict=False` ignores keys that do not match, and the missing/unexpected keys it returns are "
                    "thrown away: a prefix mismatch loads nothing without a word; check the returned keys",
                )


def _keys_checked(scope: Scope | None) -> bool:
    """Whether the function holding the load works out the missing or unexpected keys itself."""
    return scope is not None and any(
        _KEY_CHECK.search(name) and any(b.kind == "assign" for b in bindings)
        for name, bindings in scope.bindings.items()
    )
