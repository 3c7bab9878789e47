"""What several formats need alike: how a severity reads in each of them, a finding's position, source lines."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from featlint.diagnostics import Diagnostic, Severity
from featlint.reading.notebook import Notebook, read_notebook
from featlint.reading.source import UnreadableSource


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
    """`path:row:col`, the prefix that editors and terminals turn into a link; in a notebook ruff's
    `nb.ipynb:cell 3:5:1`, rows and columns counted in the cell."""
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    return f"{diagnostic.path}:{cell}{diagnostic.start.row}:{diagnostic.start.column}"


class SourceLines:
    """The lines of the reported files (of a notebook's cells), split once however many findings they have."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = sources
        self._lines: dict[tuple[str, int | None], list[str]] = {}
        self._notebooks: dict[str, Notebook | None] = {}

    def notebook(self, path: str) -> Notebook | None:
        if path not in self._notebooks:
            text = self._sources.get(path)
            try:
                self._notebooks[path] = read_notebook(text) if text is not None else None
            except UnreadableSource:
                self._notebooks[path] = None
        return self._notebooks[path]

    def line(self, path: str, row: int, cell: int | None = None) -> str | None:
        """Line `row` (1-based) of `path`, or of its cell `cell`; None when the text is unknown or shorter."""
        if (path, cell) not in self._lines:
            text = self._sources.get(path)
            if cell is not None:
                notebook = self.notebook(path)
                text = notebook.cells[cell - 1].source if notebook is not None and cell <= len(notebook.cells) else None
            self._lines[path, cell] = _LINE_BREAK.split(text) if text is not None else []
        lines = self._lines[path, cell]
        return lines[row - 1] if 1 <= row <= len(lines) else None

    def file_region(self, diagnostic: Diagnostic) -> tuple[int, int, int, int]:
        """(start row, start column, end row, end column) in the file itself: for a notebook finding, the
        place in the .ipynb JSON of the string that holds the code, where annotations must point."""
        start, end = diagnostic.start, diagnostic.end
        notebook = self.notebook(diagnostic.path) if diagnostic.cell is not None else None
        if notebook is None or diagnostic.cell is None:
            return start.row, start.column, end.row, end.column
        first = notebook.file_position(diagnostic.cell, start.row, start.column)
        last = notebook.file_position(diagnostic.cell, end.row, end.column)
        return (*first, *last) if last >= first else (*first, first[0], first[1] + 1)
