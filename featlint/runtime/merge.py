"""`featlint check --runtime`: say for each static finding whether the run confirmed it, and add what only
the run found. Torch-free.

A static finding is confirmed by a runtime finding of a code that shows its bug (below) about the same thing:
one that involves a line of the static finding (the optimizer's, the assigned layer's, the `train()` call),
or names a module or parameter that the static finding names. The same code elsewhere in the file confirms
nothing: a corrected twin of a buggy script stays "not confirmed".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from featlint.diagnostics import Diagnostic
from featlint.runtime.report import Evidence, Report

# What each static finding's bug does to a real training step.
CONFIRMED_BY: dict[str, frozenset[str]] = {
    "FL103": frozenset({"FL203", "FL701"}),  # everything frozen: nothing to train, nothing gets a gradient
    "FL201": frozenset({"FL201"}),
    "FL202": frozenset({"FL202"}),
    "FL203": frozenset({"FL203"}),
    "FL204": frozenset({"FL702"}),  # held while frozen is not the harm: moving is (a cleared grad stops it)
    "FL205": frozenset({"FL201"}),
    "FL301": frozenset({"FL704"}),
    "FL302": frozenset({"FL701"}),
    "FL501": frozenset({"FL703"}),
    "FL503": frozenset({"FL701"}),
    "FL504": frozenset({"FL701"}),
}
_NAMED = re.compile(r"`([A-Za-z_][\w.\[\]]*)`")


def about_the_same(static: Diagnostic, runtime: Diagnostic, evidence: Evidence) -> bool:
    """Whether the runtime finding involves a line of the static one or a module or parameter it names."""
    if static.path != runtime.path:
        return False
    rows = {row for path, row in evidence.rows if path == static.path} | {runtime.start.row}
    if any(static.start.row <= row <= static.end.row for row in rows):
        return True
    named = [name.replace("[", ".").replace("]", "") for name in _NAMED.findall(static.message)]
    return any(subject and (name == subject or name.endswith("." + subject))
               for subject in evidence.subjects for name in named)


def merge(static: Sequence[Diagnostic], runtime: Report, ran: str | None) -> list[Diagnostic]:
    """The static findings of the run script marked `[confirmed by the run]`, `[not confirmed by the run]` or
    `[not checked by the run]`, plus the runtime findings that confirm none of them. `ran` is the path of
    the script that was run (static findings of other files are left as they are); None when the run
    could not judge (it failed before a step), which leaves the static findings unmarked."""
    used: set[int] = set()
    merged = []
    for finding in static:
        if finding.path != ran:
            merged.append(finding)
            continue
        confirming = CONFIRMED_BY.get(finding.code)
        if confirming is None:
            mark = "not checked by the run"
        elif hits := {i for i, d in enumerate(runtime.findings)
                      if d.code in confirming and about_the_same(finding, d, runtime.evidence_of(i))}:
            mark = "confirmed by the run"
            used |= hits
        else:
            mark = "not confirmed by the run"
        merged.append(dataclasses.replace(finding, message=f"{finding.message} [{mark}]"))
    merged.extend(d for i, d in enumerate(runtime.findings) if i not in used)
    return sorted(merged, key=lambda d: d.sort_key)
