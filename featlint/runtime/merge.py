"""`featlint check --runtime`: say for each static finding whether the run confirmed it, and add what only
the run found. Torch-free."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from featlint.diagnostics import Diagnostic

# A static finding is confirmed when the run reports one of these codes for the same file: what its bug
# does to a real training step.
CONFIRMED_BY: dict[str, frozenset[str]] = {
    "FL103": frozenset({"FL203", "FL701"}),  # everything frozen: nothing to train, nothing gets a gradient
    "FL201": frozenset({"FL201"}),
    "FL202": frozenset({"FL202"}),
    "FL203": frozenset({"FL203"}),
    "FL204": frozenset({"FL702", "FL202"}),
    "FL205": frozenset({"FL201"}),
    "FL301": frozenset({"FL704"}),
    "FL302": frozenset({"FL701"}),
    "FL501": frozenset({"FL703"}),
    "FL503": frozenset({"FL701"}),
    "FL504": frozenset({"FL701"}),
}


def merge(static: Sequence[Diagnostic], runtime: Sequence[Diagnostic], ran: str | None) -> list[Diagnostic]:
    """The static findings of the run script marked `[confirmed by the run]`, `[not confirmed by the run]` or
    `[not checked by the run]`, plus the runtime findings that confirm none of them. `ran` is the path of
    the script that was run (static findings of other files are left as they are); None when the run
    could not judge (it failed before a step), which leaves the static findings unmarked."""
    seen = {(d.path, d.code) for d in runtime}
    used: set[tuple[str, str]] = set()
    merged = []
    for finding in static:
        if finding.path != ran:
            merged.append(finding)
            continue
        confirming = CONFIRMED_BY.get(finding.code)
        if confirming is None:
            mark = "not checked by the run"
        elif hits := {(finding.path, code) for code in confirming} & seen:
            mark = "confirmed by the run"
            used |= hits
        else:
            mark = "not confirmed by the run"
        merged.append(dataclasses.replace(finding, message=f"{finding.message} [{mark}]"))
    merged.extend(d for d in runtime if (d.path, d.code) not in used)
    return sorted(merged, key=lambda d: d.sort_key)
