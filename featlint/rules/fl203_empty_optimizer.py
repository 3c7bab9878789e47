from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.calls import argument
from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Model, Optimizer, Story
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class EmptyOptimizer(Rule):
    """
    ## What it does
    Finds an optimizer that can receive no trainable parameter: everything it is given was frozen before
    it was built, and no new head was added or re-enabled in between.

    ## Why is this bad?
    Nothing trains, and how it shows depends on the script. Given one list filtered on `requires_grad`, the
    optimizer gets no tensor and its constructor raises `ValueError: optimizer got an empty parameter list`
    (param-group dicts with empty lists do not raise). Given the frozen tensors unfiltered, it is built, but
    when nothing in the model requires a gradient `loss.backward()` raises `element 0 of tensors does not
    require grad`; when another layer (a new head the optimizer does not receive) does, the script runs and
    `optimizer.step()` never changes a weight. The usual causes are freezing the whole model after replacing
    its head, and handing the optimizer the frozen backbone instead of the new head.

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
        # a PEFT adapter loaded without is_trainable=True: PEFT freezes everything
        "import torch\nfrom peft import PeftModel\nfrom transformers import AutoModelForSequenceClassification as A\n"
        "m = PeftModel.from_pretrained(A.from_pretrained('roberta-base'), 'adapter')\n"
        "opt = torch.optim.AdamW(filter(lambda p: p.requires_grad, m.parameters()), lr=2e-4)\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.requires_grad_(False)\n"
        "opt = torch.optim.Adam(m.parameters())\n",
        "import torch, torchvision\nm = torchvision.models.resnet18()\nm.fc = torch.nn.Linear(512, 2)\n"
        "m.requires_grad_(False)\nopt = torch.optim.Adam(m.fc.parameters())\n",
    )
    silent = (
        # timm's reset_classifier puts a new trainable head in after the freeze
        "import timm, torch\nm = timm.create_model('resnet50', pretrained=True)\nfor p in m.parameters():\n"
        "    p.requires_grad = False\nm.reset_classifier(10)\n"
        "opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()), lr=1e-3)\n",
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
            models = {id(p.located()[0]): p.located()[0] for p in held}.values()
            yield ctx.report(
                self, built.node,
                f"every parameter this optimizer receives was frozen ({where}): "
                f"{_consequence(story, built, list(models))}; {_advice(ctx, story, built, list(models))}"
                + story.path_note(built),
            )


def _consequence(story: Story, built: Event, models: list[Model]) -> str:
    """The failure that actually occurs: the constructor's for an empty list of tensors, backward's when nothing
    in the model requires a gradient, otherwise none at all."""
    optimizer = built.optimizer
    assert optimizer is not None
    if len(optimizer.groups) == 1 and all(p.filtered for p in optimizer.holdings()) and _plain(optimizer):
        return (
            "the `requires_grad` filter leaves nothing and the constructor raises `ValueError: optimizer got an "
            "empty parameter list`"
        )
    if all(_frozen_for_good(story, model, built) for model in models):
        return (
            "nothing in the model requires a gradient, so `loss.backward()` raises `element 0 of tensors does not "
            "require grad`"
        )
    return "`optimizer.step()` never changes a weight, so nothing trains"


def _plain(optimizer: Optimizer) -> bool:
    """The optimizer's first argument is an iterable of tensors, not param-group dicts (an empty list of dicts
    does not raise: each group is just empty)."""
    node = argument(optimizer.node, 0, "params")
    if isinstance(node, cst.Name):
        bindings = optimizer.scope.lookup(node.value)
        return bool(bindings) and all(b.value is not None and not _dicts(b.value) for b in bindings)
    return node is not None and not _dicts(node)


def _dicts(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Dict):
        return True
    return isinstance(node, (cst.List, cst.Tuple)) and any(
        isinstance(e, cst.Element) and isinstance(e.value, cst.Dict) for e in node.elements
    )


def _frozen_for_good(story: Story, model: Model, built: Event) -> bool:
    """The whole model is frozen when the optimizer is built, and nothing later adds or re-enables a layer."""
    if story.frozen_at(model, (), built) is None:
        return False
    return not any(
        later.order > built.order and (
            later.kind is EventKind.ESCAPE or (later.kind is EventKind.FREEZE and later.value is not False)
            or (later.kind is EventKind.HEAD and later.has_params)
        )
        for later in story.on(model)
    )


def _advice(ctx: FileContext, story: Story, built: Event, models: list[Model]) -> str:
    """What fits the script: a head replaced and then frozen, a trainable head the optimizer does not get,
    or no layer left to train at all."""
    for model in models:
        for head in story.on(model, [EventKind.HEAD]):
            if not head.fresh or head.order > built.order:
                continue
            located = head.located()
            assert located is not None
            if story.frozen_at(model, located[1], built) is not None:
                return (
                    f"the new `{head.named(ctx.code)}` ({ctx.where(head.node)}) is frozen too: freeze the backbone "
                    f"before replacing it, or call `{head.named(ctx.code)}.requires_grad_(True)` after the freeze"
                )
            return (
                f"the new `{head.named(ctx.code)}` ({ctx.where(head.node)}) trains but is not given to this "
                f"optimizer: pass its parameters, or filter the model's on `requires_grad`"
            )
    return (
        "re-enable the layers that should train (`requires_grad_(True)`), or replace the head, before building "
        "the optimizer"
    )
