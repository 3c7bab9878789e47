from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.hub_freezes import whole_freezes
from featlint.analysis.hubs import HubKind, Hubs
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst

# PEFT's preparation for quantized training; both freeze every parameter of the model they are given.
_PREPARE = ("prepare_model_for_kbit_training", "prepare_model_for_int8_training")


class AdapterOrder(Rule):
    """
    ## What it does
    Finds PEFT steps done in an order that leaves the adapters untrained:

    - `prepare_model_for_kbit_training(model)` (or the older `prepare_model_for_int8_training`) called on
      the model that `get_peft_model` returned;
    - an optimizer built over a model's parameters before `get_peft_model` wraps that model, when no
      optimizer is built after the wrap;
    - every parameter of the wrapped model, or its `base_model`, frozen after `get_peft_model`
      (`peft_model.requires_grad_(False)`, a loop setting `requires_grad = False` on all its parameters),
      when nothing in the file sets `requires_grad` back to True.

    ## Why is this bad?
    `prepare_model_for_kbit_training` sets `requires_grad = False` on every parameter of the model it is
    given: on a `PeftModel` that freezes the LoRA adapters (and any `modules_to_save` head) that
    `get_peft_model` had just made trainable, so nothing trains. `get_peft_model` adds new LoRA parameters
    and freezes the base model: an optimizer built before it holds only frozen base weights and none of the
    adapters. A PeftModel's parameters and its `base_model` include the adapters, so freezing them after
    the wrap freezes the adapters too. In each case training runs without an error, and the loss does not
    move.

    ## Example
    ```python
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("gpt2", load_in_8bit=True)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM"))
    model = prepare_model_for_kbit_training(model)
    ```

    ## Use instead
    ```python
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained("gpt2", load_in_8bit=True)
    model = prepare_model_for_kbit_training(model)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM"))
    ```
    """

    code = "FL903"
    name = "adapter-order"
    severity = Severity.ERROR
    summary = "PEFT steps in an order that leaves the adapters untrained (kbit preparation or optimizer around get_peft_model)"
    requires_tokens = ("get_peft_model",)
    fires = (
        "from peft import get_peft_model, prepare_model_for_kbit_training\n"
        "def build(model, cfg):\n    model = get_peft_model(model, cfg)\n"
        "    prepare_model_for_kbit_training(model)\n    return model\n",
        "import torch\nfrom peft import get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-4)\nmodel = get_peft_model(model, cfg)\n",
        "import peft\nm = peft.get_peft_model(base, cfg)\nm.base_model.requires_grad_(False)\n",
        "import peft\nm = peft.get_peft_model(base, cfg)\nfor p in m.parameters():\n    p.requires_grad = False\n",
        "import peft\ndef build(enc, cfg, lora):\n    if lora:\n        enc = peft.get_peft_model(enc, cfg)\n"
        "        enc.requires_grad_(False)\n    return enc\n",
    )
    silent = (
        "import peft\nbase.requires_grad_(False)\nm = peft.get_peft_model(base, cfg)\n",
        "import peft\nm = peft.get_peft_model(base, cfg)\nm.requires_grad_(False)\n"
        "for n, p in m.named_parameters():\n    if 'lora' in n:\n        p.requires_grad = True\n",
        "from peft import get_peft_model, prepare_model_for_kbit_training\n"
        "def build(model, cfg):\n    model = prepare_model_for_kbit_training(model)\n"
        "    return get_peft_model(model, cfg)\n",
        "import torch\nfrom peft import get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\nmodel = get_peft_model(model, cfg)\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-4)\n",
        "import torch\nfrom peft import get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('gpt2')\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-4)\nmodel = get_peft_model(model, cfg)\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-4)\n",
        # The freeze is on the other arm of the branch that wraps: the model it freezes was never wrapped.
        "import peft\ndef build(enc, cfg, train_encoder):\n    if train_encoder:\n"
        "        enc = peft.get_peft_model(enc, cfg)\n    else:\n        enc.requires_grad_(False)\n    return enc\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name peft (whose import every finding needs) build the hub analysis."""
        return "peft" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        hubs = ctx.analysis.hubs
        yield from self._prepared_after_wrap(ctx, hubs)
        yield from self._optimizer_before_wrap(ctx, hubs)
        yield from self._frozen_after_wrap(ctx, hubs)

    def _frozen_after_wrap(self, ctx: FileContext, hubs: Hubs) -> Iterator[Diagnostic]:
        # Anything set trainable again (the adapters by name, the head) may undo the freeze: stay silent.
        if any(text in ctx.source for text in ("requires_grad = True", "requires_grad_(True)", "requires_grad_()")):
            return
        for freeze in whole_freezes(hubs):
            receiver = freeze.receiver
            base = isinstance(receiver, cst.Attribute) and receiver.attr.value == "base_model"
            held = hubs.object_of(receiver.value if base else receiver, freeze.scope, freeze.step)  # type: ignore[attr-defined]
            if held is None or held.kind is not HubKind.PEFT_MODEL or held.how != "get_peft_model":
                continue
            what = "its base model" if base else "every parameter"
            yield ctx.report(
                self, freeze.node,
                f"this freezes {what} of the PEFT model from `get_peft_model` on line {ctx.line(held.call)}, "
                "the LoRA adapters included: nothing trains; `get_peft_model` already froze the base model, "
                "so drop this freeze (or do it before wrapping)",
            )

    def _prepared_after_wrap(self, ctx: FileContext, hubs: Hubs) -> Iterator[Diagnostic]:
        for site in ctx.analysis.facts.calls:
            name = ctx.analysis.names.call_name(site.node, site.scope)
            if name is None or not name.startswith("peft.") or name.rsplit(".", 1)[-1] not in _PREPARE:
                continue
            step = hubs.step(site.node)
            given = site.node.args[0].value if site.node.args and not site.node.args[0].star else None
            if step is None or given is None:
                continue
            wrapped = hubs.object_of(given, site.scope, step)
            if wrapped is None or wrapped.kind is not HubKind.PEFT_MODEL or wrapped.how != "get_peft_model":
                continue
            function = name.rsplit(".", 1)[-1]
            yield ctx.report(
                self, site.node,
                f"`{function}` freezes every parameter of the model it is given, and `{ctx.code(given)}` is the "
                f"PEFT model from `get_peft_model` on line {ctx.line(wrapped.call)}: its LoRA adapters are frozen "
                f"again and nothing trains; call `{function}` on the base model before `get_peft_model`",
            )

    def _optimizer_before_wrap(self, ctx: FileContext, hubs: Hubs) -> Iterator[Diagnostic]:
        wraps = [o for o in hubs.objects if o.kind is HubKind.PEFT_MODEL and o.how == "get_peft_model"
                 and o.wrapped is not None]
        if not wraps:
            return
        optimizers = [(s.node, s.scope) for s in ctx.analysis.facts.calls if hubs.is_optimizer(s.node, s.scope)]
        for call, scope in optimizers:
            step = hubs.step(call)
            if step is None:
                continue
            for name in hubs.parameters_of(call):
                held = hubs.object_of(name, scope, step)
                wrap = next((w for w in wraps if w.wrapped is held and w.step.order > step.order
                             and w.step.owner is step.owner and not w.step.branch), None)
                if held is None or wrap is None:
                    continue
                if any((s := hubs.step(other)) is not None and s.order > wrap.step.order for other, _ in optimizers):
                    continue  # rebuilt after the wrap
                yield ctx.report(
                    self, call,
                    f"this optimizer is built over `{name.value}`'s parameters before `get_peft_model` on line "
                    f"{ctx.line(wrap.call)} freezes them and adds the LoRA adapters: it holds only frozen base "
                    "weights and no adapter, so nothing trains; build the optimizer after `get_peft_model`",
                )
                break
