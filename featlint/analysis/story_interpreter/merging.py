"""Joining what two paths through a branch left behind."""

from __future__ import annotations


def merge_envs(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """The names both paths bound to the same value; a name bound differently is unknown afterwards."""
    return {k: v for k, v in first.items() if k in second and second[k] is v}
