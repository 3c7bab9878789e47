"""Ruff's concise format: one `path:row:col: CODE [*] message` line per finding, for terminals and editors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featlint.diagnostics import Diagnostic
from featlint.outputs._shared import position

if TYPE_CHECKING:
    from featlint.outputs.report import Report


def headline(diagnostic: Diagnostic) -> str:
    marker = " [*]" if diagnostic.fix is not None else ""
    return f"{position(diagnostic)}: {diagnostic.code}{marker} {diagnostic.message}"


def render(report: Report) -> str:
    return "\n".join(headline(d) for d in report.diagnostics)
