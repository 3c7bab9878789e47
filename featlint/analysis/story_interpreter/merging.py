"""Joining what the paths through a branch left behind."""

from __future__ import annotations

import dataclasses

from featlint.analysis.story_interpreter.values import Constant, ParamVar


def merge_envs(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """The names both paths bound to the same value (or to equal constants); a name bound differently is
    unknown afterwards. A loop variable over parameters stays itself, enabled only if both paths enabled it."""
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
    return merged
