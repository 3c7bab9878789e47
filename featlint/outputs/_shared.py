"""What several formats need alike: how a severity reads in each of them, a finding's position, source lines."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from featlint.diagnostics import Diagnostic, Severity


@dataclass(frozen=True)
class Levels:
    sarif: str  # result and rule level: SARIF has no "info", its lowest level is "note"
    problem: str  # GitHub code scanning's `problem.severity` property, which calls it "recommendation"
    github: str  # the Actions workflow command: `::notice` is the quiet one


LEVELS: dict[Severity, Levels] = {
    Severity.ERROR: Levels("error", "error", "error"),
    Severity.WARNING: Levels("warning", "warning", "warning"),
    Severity.INFO: Levels("note", "recommendation", "notice"),
}

# Python ends a line at \r\n, \r or \n only; str.splitlines would also split at \f, \v, \x1c or U+2028 and
# shift every row after them away from the rows the parser reported.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def position(diagnostic: Diagnostic) -> str:
    """`path:row:col`, the prefix that editors and terminals turn into a link."""
    return f"{diagnostic.path}:{diagnostic.start.row}:{diagnostic.start.column}"


class SourceLines:
    """The lines of the reported files, split once per file however many findings it has."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = sources
        self._lines: dict[str, list[str]] = {}

    def line(self, path: str, row: int) -> str | None:
        """Line `row` (1-based) of `path`; None when the file's text is unknown or shorter than that."""
        if path not in self._lines:
            text = self._sources.get(path)
            self._lines[path] = _LINE_BREAK.split(text) if text is not None else []
        lines = self._lines[path]
        return lines[row - 1] if 1 <= row <= len(lines) else None
