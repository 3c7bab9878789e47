from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Optimizer, Params, Story, covers
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class FrozenParamsInOptimizer(Rule):
    """
    ## What it does
    Finds parameters that were frozen earlier and are then handed to the optimizer unfiltered, as in
    `SGD(model.parameters())` after a freezing loop.

    ## Why is this bad?
    While frozen, these parameters get no gradient (their `.grad` stays None), so every torch optimizer skips
    them: SGD keeps no momentum buffer and applies no weight decay to them, Adam and AdamW keep no moment
    estimates. Nothing goes wrong yet. The risk is later: as soon as anything unfreezes them (a second
    training stage, a callback, a shared helper) they start training at the optimizer's rate without a word
    (with Adam or AdamW each weight moves by about the learning rate per step, whatever the size of its
    gradient), while the code reads as if the optimizer only held what trains. Passing only what trains says
    what you mean.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = torch.nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    ```
    """

    code = "FL202"
    name = "frozen-params-in-optimizer"
    severity = Severity.WARNING
    summary = "Frozen parameters are handed to the optimizer unfiltered"
    requires_tokens = STORY_TOKENS
    fires = (
        # a Hugging Face classifier whose encoder (the class's backbone attribute) is frozen
        "import torch\nfrom transformers import AutoModelForSequenceClassification as A\n"
        "m = A.from_pretrained('bert-base-uncased', num_labels=3)\nfor p in m.bert.parameters():\n"
        "    p.requires_grad = False\nopt = torch.optim.AdamW(m.parameters(), lr=2e-5)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('fc'):\n        p.requires_grad = False\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torch.nn as nn, torchvision\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.backbone = torchvision.models.resnet18()\n"
        "        for p in self.backbone.parameters():\n            p.requires_grad = False\n"
        "        self.head = nn.Linear(1000, 2)\nnet = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n",
    )
    silent = (
        # PEFT froze the base itself: the documented optimizer over every parameter of the wrapped model
        "import torch\nfrom peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForSequenceClassification as A\n"
        "m = A.from_pretrained('roberta-base', num_labels=3)\nm.roberta.requires_grad_(False)\n"
        "m = get_peft_model(m, LoraConfig(r=8, task_type='SEQ_CLS'))\nopt = torch.optim.AdamW(m.parameters(), lr=2e-4)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.layer1.requires_grad_(False)\n"
        "opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad])\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.Adam(m.fc.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nopt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\nm.requires_grad_(True)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        # the official tutorial's list of trainable parameters
        "import torch, torchvision\nm = torchvision.models.resnet18()\nfor p in m.parameters():\n"
        "    p.requires_grad = False\nm.fc = torch.nn.Linear(512, 2)\nparams = []\n"
        "for name, p in m.named_parameters():\n    if p.requires_grad:\n        params.append(p)\n"
        "opt = torch.optim.SGD(params, lr=0.001)\n",
        # the user's own module keeps a parameter fixed by design
        "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(10, 50)\n        self.fc.bias.requires_grad = False\n"
        "net = Net()\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        for built, held in story.holdings():
            freeze = self._still_frozen(story, held, built)
            if freeze is None:
                continue
            model, path = held.located()
            if not story.involves_pretrained_use(model):
                continue  # a parameter kept fixed by the design of the user's own module
            if story.frozen_at(model, path, built) is not None:
                continue  # nothing it holds can train: FL203 says so
            assert built.optimizer is not None, "an OPTIMIZER event without its optimizer"
            yield ctx.report(
                self, held.node or built.node,
                f"the optimizer receives the parameters frozen on {ctx.where(freeze.node)}: "
                f"{_consequence(built.optimizer)}; pass `filter(lambda p: p.requires_grad, ...)` or only the "
                "parameters that train"
                + story.path_note(freeze, built),
            )

    @staticmethod
    def _still_frozen(story: Story, held: Params, built: Event) -> Event | None:
        """A freeze before the optimizer, on parameters it receives unfiltered, not undone since."""
        if held.filtered:
            return None
        model, path = held.located()
        frozen: Event | None = None
        # A fresh layer replacing what was frozen, or (for a submodule such as `classifier`) a fresh layer inside
        # it: without knowing which children hold parameters, assume the user meant the new head.
        replaced = [
            e for e in story.on(model, [EventKind.HEAD])
            if e.fresh and (covers(e.located()[1], path) or (path and covers(path, e.located()[1])))  # type: ignore[index]
        ]
        for event in sorted([*story.freezes_before(model, path, built), *replaced], key=lambda e: e.order):
            if event.order > built.order:
                break
            event_path = event.located()[1]  # type: ignore[index]
            if event.kind is EventKind.HEAD:
                frozen = None  # a new layer: what it holds is freshly trainable
            elif event.value is False:
                frozen = event
            elif not event.partial and covers(event_path, path):
                frozen = None  # everything it holds was re-enabled
            elif event.value is None:
                frozen = None  # set to a value featlint cannot tell: only a later freeze counts
        escaped = any(
            frozen is not None and frozen.order < e.order < built.order for e in story.on(model, [EventKind.ESCAPE])
        )
        return None if escaped else frozen


_ADAM_FAMILY = frozenset({"Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam"})


def _set(call: cst.Call, keyword: str) -> bool:
    """The optimizer call passes `keyword` with a value that may be non-zero."""
    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == keyword), None)
    return value is not None and not (isinstance(value, (cst.Integer, cst.Float)) and float(value.value) == 0)


def _consequence(optimizer: Optimizer) -> str:
    """What the optimizer does with frozen parameters (nothing: their grad is None) and what happens if they are
    unfrozen later, for this optimizer's family."""
    if optimizer.klass in _ADAM_FAMILY:
        decay = " and decay toward zero" if optimizer.klass == "AdamW" or _set(optimizer.node, "weight_decay") else ""
        return (
            f"while frozen their grad is None, so {optimizer.klass} skips them and keeps no state for them, but if "
            f"anything unfreezes them later they start training at once: each weight moves by about lr per step, "
            f"however small its gradient{decay}"
        )
    if optimizer.klass == "SGD":
        extras = [word for word, keyword in (("momentum", "momentum"), ("weight decay", "weight_decay"))
                  if _set(optimizer.node, keyword)]
        how = f"at the full lr with {' and '.join(extras)}" if extras else "at the full lr"
        return (
            "while frozen their grad is None, so SGD skips them (no momentum buffer, no weight decay), but if "
            f"anything unfreezes them later they start training {how} without a word"
        )
    return (
        f"while frozen their grad is None, so {optimizer.klass} skips them, but if anything unfreezes them later "
        "they start training at the optimizer's rate without a word"
    )

