from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.calls import argument
from featlint.analysis.hubs import HubKind, HubObject, Hubs
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class AdapterLoadedFrozen(Rule):
    """
    ## What it does
    Finds `PeftModel.from_pretrained(...)` (or an `AutoPeftModel...` class's) without `is_trainable=True`
    whose model is then handed to an optimizer or a `Trainer`, when nothing in the file sets
    `requires_grad` again.

    ## Why is this bad?
    `PeftModel.from_pretrained` loads an adapter for inference: every parameter, the adapter's included,
    has `requires_grad=False` unless `is_trainable=True` is passed. Training it goes nowhere: a plain
    optimizer receives only frozen parameters, and a `Trainer` has nothing to update.

    ## Example
    ```python
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained("gpt2")
    model = PeftModel.from_pretrained(base, "my-adapter")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ```

    ## Use instead
    ```python
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained("gpt2")
    model = PeftModel.from_pretrained(base, "my-adapter", is_trainable=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ```
    """

    code = "FL902"
    name = "adapter-loaded-frozen"
    severity = Severity.ERROR
    summary = "A PEFT adapter loaded without `is_trainable=True` is trained: it has no trainable parameter"
    requires_tokens = ("PeftModel",)
    fires = (
        "from peft import PeftModel\nfrom transformers import Trainer\n"
        "model = PeftModel.from_pretrained(base, 'adapter')\ntrainer = Trainer(model=model, args=args)\n",
        "import torch\nimport peft\nm = peft.AutoPeftModelForCausalLM.from_pretrained('adapter')\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
    )
    silent = (
        "from peft import PeftModel\nfrom transformers import Trainer\n"
        "model = PeftModel.from_pretrained(base, 'adapter', is_trainable=True)\n"
        "trainer = Trainer(model=model, args=args)\n",
        "from peft import PeftModel\nmodel = PeftModel.from_pretrained(base, 'adapter')\nmodel.generate(ids)\n",
        "import torch\nfrom peft import PeftModel\nm = PeftModel.from_pretrained(base, 'adapter')\n"
        "for n, p in m.named_parameters():\n    p.requires_grad = 'lora' in n\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name peft (whose import every finding needs) build the hub analysis."""
        return "peft" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        hubs = ctx.analysis.hubs
        loaded = [o for o in hubs.objects if o.kind is HubKind.PEFT_MODEL and o.how == "from_pretrained"
                  and hubs.peft_model_trainable(o) is False]
        if not loaded or "requires_grad" in ctx.source:
            return
        for obj in loaded:
            use = self._training_use(ctx, hubs, obj)
            if use is None:
                continue
            call, what = use
            yield ctx.report(
                self, obj.call,
                f"`{obj.library_class}.from_pretrained` loads the adapter frozen (inference mode) without "
                f"`is_trainable=True`, and the model goes to {what} on line {ctx.line(call)}: it has no trainable "
                "parameter, so nothing trains; pass `is_trainable=True`",
            )

    @staticmethod
    def _training_use(ctx: FileContext, hubs: Hubs, obj: HubObject) -> tuple[cst.Call, str] | None:
        for site in ctx.analysis.facts.calls:
            step = hubs.step(site.node)
            if step is None or step.order < obj.step.order:
                continue
            if hubs.is_optimizer(site.node, site.scope):
                if any(hubs.object_of(n, site.scope, step) is obj for n in hubs.parameters_of(site.node)):
                    return site.node, "an optimizer"
                continue
            name = ctx.analysis.names.call_name(site.node, site.scope)
            if name is not None and name.endswith("Trainer") and "." in name:
                given = argument(site.node, 0, "model")
                if given is not None and hubs.object_of(given, site.scope, step) is obj:
                    return site.node, f"a `{name.rsplit('.', 1)[-1]}`"
        return None
