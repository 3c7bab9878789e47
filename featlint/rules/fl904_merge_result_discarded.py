from __future__ import annotations

from collections.abc import Iterator

from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst

# Calls that write a model: on a PeftModel they write only the adapter.
_SAVES = ("save_pretrained", "push_to_hub")


class MergeResultDiscarded(Rule):
    """
    ## What it does
    Finds `model.merge_and_unload()` written as a statement of its own, its result thrown away, when the
    same `model` is saved afterwards (`model.save_pretrained(...)`, `model.push_to_hub(...)`).

    ## Why is this bad?
    `merge_and_unload()` folds the LoRA weights into the base model and *returns* that base model. The
    object it is called on is still the `PeftModel`, so saving it writes an adapter (a few megabytes of
    LoRA weights and an `adapter_config.json`), not the merged model that was meant to be shipped. No error
    is raised; the mistake shows when the saved folder cannot be loaded without PEFT and the base model.

    ## Example
    ```python
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained("gpt2")
    model = PeftModel.from_pretrained(base, "adapter")
    model.merge_and_unload()
    model.save_pretrained("merged")
    ```

    ## Use instead
    ```python
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained("gpt2")
    model = PeftModel.from_pretrained(base, "adapter")
    model = model.merge_and_unload()
    model.save_pretrained("merged")
    ```
    """

    code = "FL904"
    name = "merge-result-discarded"
    severity = Severity.WARNING
    summary = "The result of `merge_and_unload()` is thrown away, then the PEFT model is saved: only the adapter is written"
    requires_tokens = ("merge_and_unload",)
    fires = (
        "import peft\nm = peft.get_peft_model(base, cfg)\nm.merge_and_unload()\nm.save_pretrained('out')\n",
        "def export(model, path):\n    model.merge_and_unload()\n    model.push_to_hub(path)\n",
    )
    silent = (
        "import peft\nm = peft.get_peft_model(base, cfg)\nm = m.merge_and_unload()\nm.save_pretrained('out')\n",
        "import peft\nm = peft.get_peft_model(base, cfg)\nmerged = m.merge_and_unload()\nmerged.save_pretrained('o')\n",
        "def export(model):\n    model.merge_and_unload()\n    return model\n",
        "def export(model, other):\n    model.merge_and_unload()\n    other.save_pretrained('o')\n",
        "def export(model, load):\n    model.merge_and_unload()\n    model = load()\n    model.save_pretrained('o')\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        hubs = ctx.analysis.hubs
        for site in ctx.analysis.facts.calls:
            call = site.node
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "merge_and_unload"):
                continue
            step = hubs.step(call)
            if step is None or not hubs.discarded(call):
                continue
            receiver = ctx.code(func.value)
            saves = [
                (save, method) for method in _SAVES for save, scope in hubs.later_calls(step, method)
                if isinstance(save.func, cst.Attribute) and ctx.code(save.func.value) == receiver
                and not hubs.rebound_between(func.value, scope, step, hubs.step(save))
            ]
            if not saves:
                continue
            save, method = min(saves, key=lambda pair: ctx.line(pair[0]))
            yield ctx.report(
                self, call,
                f"`{receiver}.merge_and_unload()` returns the merged model, but its result is thrown away: "
                f"`{receiver}` is still the PEFT model, so `{receiver}.{method}(...)` on line {ctx.line(save)} "
                f"writes only the adapter; write `{receiver} = {receiver}.merge_and_unload()`",
            )
