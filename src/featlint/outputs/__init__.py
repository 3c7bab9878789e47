"""Every output format renders the same sorted :class:`~featlint.diagnostics.Diagnostic` objects.

A format is a plain function from a :class:`Report` to text, so the command line, the pre-commit hook and
tests all print exactly the same thing; the caller decides where the text goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from featlint.outputs import concise, full, github, json_format, sarif

if TYPE_CHECKING:
    # Only annotations: importing the rules package would load the whole registry and its analysis.
    from featlint.diagnostics import Diagnostic
    from featlint.rules.base import Rule


@dataclass
class Report:
    """What a format may need beyond the findings themselves."""

    diagnostics: Sequence[Diagnostic]  # already sorted by the caller: formats keep its order
    sources: Mapping[str, str]  # path -> text, only for files with findings (code frames, fingerprints)
    rules: Sequence[type[Rule]]  # the whole registry: SARIF describes every rule, not only those that fired
    version: str
    fixed: int = 0  # findings the fix mode already applied; they are no longer in `diagnostics`


FORMATS: dict[str, Callable[[Report], str]] = {
    "concise": concise.render,
    "full": full.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "github": github.render,
}


def render(fmt: str, report: Report) -> str:
    try:
        formatter = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    return formatter(report)
