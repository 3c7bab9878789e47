"""What else decides the learning rate than the value an optimizer is built with.

The rate written at `torch.optim.X(params, lr=...)` is only the start when the script sets it again later:
by hand (`param_group["lr"] = ...` in the loop), with a scheduler that sets it outright (OneCycleLR,
CyclicLR: their own `max_lr`/`base_lr`), or with one that multiplies it by a factor that may exceed 1
(LambdaLR, MultiplicativeLR, the warm-up schedules of transformers and timm). And what a rate means depends on
what trains: adapter methods (PEFT: LoRA, prompt tuning, ...) train a few new parameters next to a frozen base,
at rates (0.3, 1) that would wreck a whole model.
"""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts
from featlint.startup.deferred import cst

_SETS = frozenset({"torch.optim.lr_scheduler.OneCycleLR", "torch.optim.lr_scheduler.CyclicLR"})
_SCALES = frozenset({"torch.optim.lr_scheduler.LambdaLR", "torch.optim.lr_scheduler.MultiplicativeLR",
                     "transformers.get_scheduler", "transformers.optimization.get_scheduler",
                     "timm.scheduler.create_scheduler", "timm.scheduler.create_scheduler_v2"})
_ADAPTER_LIBRARIES = ("peft",)


@dataclasses.dataclass(frozen=True)
class LrSetting:
    sets: bool  # the rate is set again outright after the optimizer is built: the initial value does not matter
    scales: bool  # a scheduler multiplies the initial rate by factors that may exceed 1 (a zero stays zero)
    adapters: bool  # the file trains adapters from an adapter library (PEFT) next to a frozen base


def _function_name(call: cst.Call) -> str | None:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def lr_setting(facts: ModuleFacts, names: NameResolver) -> LrSetting:
    sets = any(
        isinstance(store.target, cst.Subscript) and calls.subscript_index(store.target) == "lr"
        for store in facts.subscript_stores
    )
    scales = False
    for site in facts.calls:
        short = _function_name(site.node)
        if short is None or not ("LR" in short or "schedule" in short.lower()):
            continue
        qualified = names.call_name(site.node, site.scope) or ""
        sets = sets or qualified in _SETS
        scales = scales or qualified in _SCALES or "warmup" in short.lower()
    adapters = any(
        binding.kind == "import" and (binding.qualified or "").split(".")[0] in _ADAPTER_LIBRARIES
        for scope in facts.scopes.values() for bindings in scope.bindings.values() for binding in bindings
    )
    return LrSetting(sets, scales, adapters)
