"""Object lifetimes: an optimizer built inside one of the file's functions is gone once the function returns,
unless the function returns it or stores it on an object that outlives the call. Nothing after that can
update with it, so a later freeze or new head is no concern of its (`Optimizer.dead_after`)."""

from __future__ import annotations

from collections.abc import Iterable

from featlint.analysis.scopes import Scope
from featlint.analysis.story import Optimizer
from featlint.analysis.story_interpreter.values import DictValue, Namespace, TupleValue
from featlint.startup.deferred import cst


def kept(roots: Iterable[object]) -> set[int]:
    """Ids of the optimizers reachable from `roots` (returned values, the objects the call could store into)."""
    found: set[int] = set()
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Optimizer):
            found.add(id(value))
        elif isinstance(value, TupleValue):
            pending.extend(value.items)
        elif isinstance(value, DictValue):
            pending.extend(item for _, _, item in value.items)
        elif isinstance(value, Namespace):
            pending.extend(value.attrs.values())
    return found


def declares_global(scope: Scope) -> bool:
    """`global`/`nonlocal` in the function: what it stores outlives the call where featlint does not look."""
    return any(
        isinstance(binding.node, (cst.Global, cst.Nonlocal))
        for bindings in scope.bindings.values() for binding in bindings
    )
