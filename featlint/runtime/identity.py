"""A weak map keyed by object identity, for what the child records about the user's modules.

`weakref.WeakKeyDictionary` hashes its keys, and modules may define `__hash__` and `__eq__`: torchmetrics'
`Metric` (which Lightning's `self.log` creates) hashes its states, which do not exist yet while
`nn.Module.__init__` runs, so recording a module there raised inside the user's script. Identity is what the
child means anyway: this module object, not one equal to it.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

Value = TypeVar("Value")


class IdentityMap(Generic[Value]):
    """`map[obj] = value` and `map.get(obj)` by `id(obj)`, without keeping `obj` alive."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref[object], Value]] = {}

    def __setitem__(self, key: object, value: Value) -> None:
        number = id(key)

        def forget(reference: weakref.ref[object]) -> None:
            # A new object may reuse the id before this callback runs: drop only our own entry.
            if number in self._items and self._items[number][0] is reference:
                del self._items[number]

        self._items[number] = (weakref.ref(key, forget), value)

    def get(self, key: object) -> Value | None:
        entry = self._items.get(id(key))
        return entry[1] if entry is not None and entry[0]() is key else None
