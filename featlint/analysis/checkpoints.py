"""Which `load_state_dict` calls resume the script's own training checkpoint.

A resume reads back what the script itself wrote with `torch.save`: the keys match because the same code
produced them, and the weights are the script's own training, not pretrained features. Rules about pretrained
weights (a new head next to a pretrained backbone, a learning rate that destroys pretrained features) and about
unchecked non-strict loads must not read a resume as a pretrained checkpoint.

A load is a resume when the file saves checkpoints (`torch.save`) and the same function, or the same class,
also restores the training state around the weights: an optimizer's, a scheduler's or a gradient scaler's
`load_state_dict`. Pretrained weights never come with an optimizer state; a training checkpoint does. Loads of
pretrained weights elsewhere in the same file (another function) stay what they are.
"""

from __future__ import annotations

import re

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, Scope
from featlint.startup.deferred import cst

# The receivers whose state is training state, not weights: `optimizer`, `opt_g`, `lr_scheduler`, `scaler`.
_TRAINING_STATE = re.compile(r"^opt(_|$)|optim|sched|scaler", re.IGNORECASE)


def _receiver_name(call: cst.Call) -> str | None:
    """The last name of what `x.y.load_state_dict(...)` is called on (`y`), if it is a name or an attribute."""
    if not isinstance(call.func, cst.Attribute):
        return None
    owner = call.func.value
    if isinstance(owner, cst.Name):
        return owner.value
    if isinstance(owner, cst.Attribute):
        return owner.attr.value
    return None


def _unit(scope: Scope) -> cst.CSTNode:
    """The function or class a call belongs to (a method's class: its methods share the checkpoint code)."""
    current: Scope | None = scope
    while current is not None and current.kind not in ("function", "class", "module"):
        current = current.parent
    if current is None:
        return scope.node
    if current.owner_class is not None:
        return current.owner_class
    return current.node


def resumed_loads(facts: ModuleFacts, names: NameResolver) -> frozenset[cst.Call]:
    """The `load_state_dict` calls that restore the script's own training checkpoint (see the module doc)."""
    loads: list[tuple[cst.Call, cst.CSTNode]] = []
    restores_training: set[int] = set()
    saves = False
    for site in facts.calls:
        func = site.node.func
        attr = func.attr.value if isinstance(func, cst.Attribute) else None
        attr = func.value if isinstance(func, cst.Name) else attr
        if attr == "save" and names.call_name(site.node, site.scope) == "torch.save":
            saves = True
        elif attr == "load_state_dict":
            unit = _unit(site.scope)
            receiver = _receiver_name(site.node)
            if receiver is not None and _TRAINING_STATE.search(receiver):
                restores_training.add(id(unit))
            else:
                loads.append((site.node, unit))
    if not saves:
        return frozenset()
    return frozenset(call for call, unit in loads if id(unit) in restores_training)
