"""Every output format renders the same sorted :class:`~featlint.diagnostics.Diagnostic` objects.

A format is a plain function from a :class:`Report` to text, so the command line, the pre-commit hook and
tests all print exactly the same thing; the caller decides where the text goes.
"""

from __future__ import annotations

from collections.abc import Callable

from featlint.outputs import concise, full, github, json_format, sarif
from featlint.outputs.report import Report

__all__ = ["FORMATS", "Report", "render"]


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
