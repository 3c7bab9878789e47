"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff.

The runner parses `::command key=value,...::data`, so `%`, line breaks and, in values, `:` and `,` must be
percent-escaped as `actions/toolkit` does, or a path or message containing them truncates the annotation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featlint.diagnostics import Diagnostic
from featlint.outputs._shared import LEVELS, position

if TYPE_CHECKING:
    from featlint.outputs.report import Report
    from featlint.running.results import InternalError


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(diagnostic: Diagnostic) -> str:
    properties = {
        "file": diagnostic.path,
        "line": diagnostic.start.row,
        "col": diagnostic.start.column,
        "endLine": diagnostic.end.row,
        "endColumn": diagnostic.end.column,
        "title": f"{diagnostic.code} {diagnostic.name}",
    }
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    data = escape_data(f"{position(diagnostic)}: {diagnostic.code} {diagnostic.message}")
    return f"::{LEVELS[diagnostic.severity].github} {rendered}::{data}"


def error_command(error: InternalError) -> str:
    """An internal error as an error annotation on its file, so a workflow shows that a check did not run."""
    properties: dict[str, object] = {"file": error.path}
    if error.line is not None:
        properties["line"] = error.line
    properties["title"] = f"featlint internal error in {error.where}"
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    return f"::error {rendered}::{escape_data(str(error))}"


def render(report: Report) -> str:
    return "\n".join([*(command(d) for d in report.diagnostics), *(error_command(e) for e in report.errors)])
