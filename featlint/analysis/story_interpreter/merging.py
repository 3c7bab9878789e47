"""Joining what the paths through a branch left behind."""

from __future__ import annotations

from featlint.analysis.story_interpreter.values import Constant


def merge_envs(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """The names both paths bound to the same value (or to equal constants); a name bound differently is
    unknown afterwards."""
    merged = {}
    for name, value in first.items():
        other = second.get(name)
        if name in second and (other is value or (isinstance(value, Constant) and value == other)):
            merged[name] = value
    return merged
