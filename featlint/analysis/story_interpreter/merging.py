"""Joining what the paths through a branch left behind."""

from __future__ import annotations

import dataclasses

from featlint.analysis.story import Event, EventKind
from featlint.analysis.story_interpreter.values import Constant, ParamVar, Ref


def merge_envs(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """The names both paths bound to the same value (or to equal constants); a name bound differently is
    unknown afterwards. A loop variable over parameters stays itself, enabled only if both paths enabled it; a
    model wrapped on one path only stays the model, as a wrapper that may not be one."""
    merged = {}
    for name, value in first.items():
        if name not in second:
            continue
        other = second[name]
        if other is value or (isinstance(value, Constant) and value == other):
            merged[name] = value
        elif isinstance(value, ParamVar) and isinstance(other, ParamVar):
            if dataclasses.replace(value, enabled=False) == dataclasses.replace(other, enabled=False):
                merged[name] = dataclasses.replace(value, enabled=value.enabled and other.enabled)
        else:
            wrapper = _wrapper_of(value, other) or _wrapper_of(other, value)
            if wrapper is not None:
                wrapper.model.maybe_wrapper = True
                merged[name] = wrapper
    return merged


def _wrapper_of(value: object, other: object) -> Ref | None:
    """`value` wraps `other` in DataParallel/DDP, as one arm of `if device_count() > 1:` leaves it: the model
    is the same on both paths, its parameters and modes too; only assignments on it differ."""
    if isinstance(value, Ref) and isinstance(other, Ref) and not value.path and not other.path:
        if value.model.wrapped is other.model:
            return value
    return None


def definite_in_both(first: list[Event], second: list[Event]) -> list[Event]:
    """The freezes of `first` (one arm of an if/else, each depending on that test alone) that `second` (the
    other arm) makes too, on the same part of the same model with the same flag: whichever arm runs, they
    happen, so they are no longer conditional."""
    def key(event: Event) -> tuple[object, ...] | None:
        located = event.located()
        if event.kind is not EventKind.FREEZE or located is None or event.selector is not None:
            return None
        return (id(located[0]), located[1], event.value, event.partial)

    other = {key(e) for e in second} - {None}
    return [e for e in first if key(e) in other]
