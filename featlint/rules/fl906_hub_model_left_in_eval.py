from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.hubs import HubKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst

# Frameworks that put the model in train mode themselves.
_FRAMEWORK_MODULES = ("lightning", "pytorch_lightning")


class HubModelLeftInEval(Rule):
    """
    ## What it does
    Finds a Hugging Face model loaded with `from_pretrained`, handed to an optimizer and trained with
    `.backward()` in a file that never calls `.train()` on anything, uses no `Trainer` and no Lightning.

    ## Why is this bad?
    `from_pretrained` returns the model in evaluation mode (`model.eval()` is its last step). A
    hand-written loop that never calls `model.train()` fine-tunes with dropout switched off for the whole
    run: the regularisation the model was pretrained with is gone, and the fine-tuned model overfits more
    than it should. No error is raised. `Trainer` and Lightning call `model.train()` themselves.

    ## Example
    ```python
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    for batch in loader:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    ```

    ## Use instead
    ```python
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    for batch in loader:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    ```
    """

    code = "FL906"
    name = "hub-model-left-in-eval"
    severity = Severity.WARNING
    summary = "A Hugging Face model (eval mode after `from_pretrained`) is trained without `.train()`: dropout stays off"
    requires_tokens = ("from_pretrained",)
    fires = (
        "import torch, transformers\nm = transformers.BertForSequenceClassification.from_pretrained('b')\n"
        "opt = torch.optim.AdamW(m.parameters())\nfor x in data:\n    m(**x).loss.backward()\n    opt.step()\n",
    )
    silent = (
        "import torch, transformers\nm = transformers.BertForSequenceClassification.from_pretrained('b')\n"
        "opt = torch.optim.AdamW(m.parameters())\nm.train()\nfor x in data:\n    m(**x).loss.backward()\n"
        "    opt.step()\n",
        "import torch, transformers\nm = transformers.BertForSequenceClassification.from_pretrained('b')\n"
        "opt = torch.optim.AdamW(m.parameters())\nt = transformers.Trainer(m, optimizers=(opt, None))\nt.train()\n",
        "import torch, transformers\nm = transformers.BertForSequenceClassification.from_pretrained('b')\n"
        "opt = torch.optim.AdamW(m.parameters())\nfor x in data:\n    print(m(**x).logits)\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name transformers (whose import every finding needs) build the hub analysis."""
        return "transformers" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        facts = ctx.analysis.facts
        hubs = ctx.analysis.hubs
        loaded = [o for o in hubs.objects if o.kind is HubKind.HF_MODEL and o.how == "from_pretrained"]
        if not loaded or self._framework_trains(ctx):
            return
        backwards = [s.node for s in facts.calls
                     if isinstance(s.node.func, cst.Attribute) and s.node.func.attr.value == "backward"]
        if not backwards:
            return
        for site in facts.calls:
            step = hubs.step(site.node)
            if step is None or not hubs.is_optimizer(site.node, site.scope):
                continue
            for name in hubs.parameters_of(site.node):
                model = hubs.object_of(name, site.scope, step)
                if model is None or model not in loaded:
                    continue
                after = [b for b in backwards if (s := hubs.step(b)) is not None and s.order > step.order]
                if not after:
                    continue
                yield ctx.report(
                    self, after[0],
                    f"`{name.value}` comes from `{model.library_class}.from_pretrained` on line "
                    f"{ctx.line(model.call)}, which returns it in eval mode, and nothing in this file calls "
                    "`.train()`: this training step runs with dropout off, for the whole fine-tuning; call "
                    f"`{name.value}.train()` before the training loop",
                )
                return

    @staticmethod
    def _framework_trains(ctx: FileContext) -> bool:
        """`.train()` called on anything, a `*Trainer`, or Lightning: someone switches to train mode."""
        names = ctx.analysis.names
        for site in ctx.analysis.facts.calls:
            func = site.node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "train":
                return True
            name = names.call_name(site.node, site.scope)
            if name is not None and (name.endswith("Trainer") or name.startswith(_FRAMEWORK_MODULES)):
                return True
        return any(b.kind == "import" and (b.qualified or "").startswith(_FRAMEWORK_MODULES)
                   for bindings in ctx.analysis.facts.module_scope.bindings.values() for b in bindings)
