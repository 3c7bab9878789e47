"""Reading a Jupyter notebook (nbformat 4 JSON) as one Python program, with a map back to its cells.

The code cells, in document order, are one program: a model built in cell 2, frozen in cell 5 and handed to
an optimizer in cell 7 is one story, as it is for the kernel that runs them. Markdown and raw cells add no
lines. IPython syntax that is not Python becomes a `pass` of the same indentation, one line for one line, so
that every row of the program is a row of one cell (`%time x = f()` keeps `x = f()`, shifted left by the
magic's width, which the map adds back). Cells whose magic makes them another language (`%%bash`,
`%%writefile`, `%%html`, ...) add no lines either.

Cells are numbered as ruff numbers them: the 1-based index in the notebook's `cells` array, markdown and raw
cells counted (ruff's NotebookIndex keeps that "absolute cell index"; not the execution count, and not
nbQA's count of code cells only).

The JSON is read with the standard library only. Where each cell's `source` sits in the file (its span, and
the file line of each of its lines) is found by a second, lazy walk that only fixes and the GitHub and SARIF
outputs need; `with_sources` replaces the changed cells' `source` values and leaves every other byte alone.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import json
from collections.abc import Mapping

from featlint.reading.ipython_syntax import python_lines, split_lines
from featlint.reading import notebook_json
from featlint.reading.notebook_json import SourceSpan, indent_at, string_end
from featlint.reading.source import UnreadableSource

NOTEBOOK_SUFFIX = ".ipynb"


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


@dataclasses.dataclass(frozen=True)
class Cell:
    index: int  # 1-based position in the `cells` array: the "cell N" of every output
    kind: str  # "code", "markdown" or "raw"
    source: str
    execution_count: int | None
    as_list: bool  # `source` saved as a list of lines (nbformat's way) rather than one string


@dataclasses.dataclass(frozen=True)
class Part:
    """A code cell's lines in the program."""

    cell: Cell
    first_row: int  # the program row of the cell's line 1
    rows: int
    shifts: Mapping[int, int]  # cell row -> characters a line magic took from its start (`%time `)


class Notebook:
    def __init__(
        self, text: str, cells: list[Cell], notes: list[str], skipped: bool, excluded: frozenset[int] = frozenset()
    ) -> None:
        self.text = text
        self.cells = cells
        self.notes = notes
        self._skipped = skipped
        self.excluded = excluded  # cells left out of the program (a syntax error the engine reported)
        self.parts: list[Part] = []
        # What of the code cells is not in the program: (cell, row) of an IPython line, (cell, 0) for a cell
        # whose magic makes it another language. `featlint run` says it did not run these.
        self.left_out: list[tuple[int, int]] = []
        pieces: list[str] = []
        row = 1
        for cell in [] if skipped else cells:
            if cell.kind != "code" or cell.index in excluded:
                continue
            lines, shifts = python_lines(cell.source)
            if not lines:
                if cell.source.strip():
                    self.left_out.append((cell.index, 0))
                continue
            original = split_lines(cell.source)
            self.left_out.extend(
                (cell.index, number) for number, (old, new) in enumerate(zip(original, lines), start=1)
                if new.strip() == "pass" and old.strip() != "pass"
            )
            if not lines[-1].endswith(("\n", "\r")):
                lines[-1] += "\n"
            self.parts.append(Part(cell, row, len(lines), shifts))
            pieces.extend(lines)
            row += len(lines)
        self.program = "".join(pieces)
        self._starts = [part.first_row for part in self.parts]

    def without(self, cell: int) -> Notebook:
        """The same notebook with `cell` left out of the program, so that one broken cell does not hide the
        findings of the others."""
        return Notebook(self.text, self.cells, self.notes, self._skipped, self.excluded | {cell})

    # --- positions -------------------------------------------------------------------------------------
    def part_at(self, row: int) -> Part | None:
        index = self._index(row)
        return self.parts[index] if index >= 0 else None

    def _index(self, row: int) -> int:
        return bisect.bisect_right(self._starts, row) - 1

    def cell_at(self, row: int) -> Cell | None:
        """The cell that holds program row `row`."""
        part = self.part_at(row)
        return part.cell if part is not None else None

    def locate(self, row: int, column: int, *, closing: bool = False) -> tuple[int, int, int]:
        """(cell, row in the cell, column in the cell) of a program position. With `closing`, a position at
        the very start of a cell (an insertion after the previous cell's last line, or a span's end) belongs
        to the end of the previous cell."""
        index = self._index(row)
        if index < 0:
            return (self.parts[0].cell.index if self.parts else 1), 1, 1
        part = self.parts[index]
        if closing and column == 1 and row == part.first_row and index > 0:
            previous = self.parts[index - 1]
            if previous.first_row + previous.rows == row:
                return previous.cell.index, previous.rows + 1, 1
        cell_row = row - part.first_row + 1
        return part.cell.index, cell_row, column + part.shifts.get(cell_row, 0) if column > 0 else column

    def where(self, row: int) -> str:
        """How a message names program row `row`: "cell 2, line 4"."""
        cell, cell_row, _ = self.locate(row, 1)
        return f"cell {cell}, line {cell_row}"

    def cell_lines(self, cell: int) -> list[str]:
        if not 1 <= cell <= len(self.cells):
            return []
        return split_lines(self.cells[cell - 1].source)

    def file_position(self, cell: int, row: int, column: int) -> tuple[int, int]:
        """The (row, column) in the .ipynb file of a cell position: the line of the JSON string that holds
        that source line, so that annotations and code scanning land on the code (ruff reports line 1)."""
        spans = self.source_spans
        if not 1 <= cell <= len(spans) or spans[cell - 1] is None:
            return 1, 1
        span = spans[cell - 1]
        assert span is not None
        lines = self.cell_lines(cell)
        if span.items:
            item = min(max(row, 1), len(span.items)) - 1
            offset = span.items[item]
            prefix = lines[item][: max(column - 1, 0)] if item < len(lines) else ""
        else:
            offset = span.start
            prefix = "".join(lines[: max(row - 1, 0)]) + (lines[row - 1][: max(column - 1, 0)] if row <= len(lines) else "")
        file_row = self.text.count("\n", 0, offset) + 1
        line_start = self.text.rfind("\n", 0, offset) + 1
        encoded = json.dumps(prefix, ensure_ascii=False)[1:-1]
        return file_row, offset - line_start + 2 + len(encoded)

    # --- the JSON text ---------------------------------------------------------------------------------
    @functools.cached_property
    def source_spans(self) -> list[SourceSpan | None]:
        return notebook_json.source_spans(self.text, len(self.cells))

    def with_sources(self, sources: Mapping[int, str]) -> str:
        """The notebook's text with the `source` of the cells in `sources` (by cell number) replaced; every
        other byte as it was, and each unchanged line of a list-form source kept as it was written."""
        ascii_only = "\\u" in self.text and self.text.isascii()
        pieces: list[str] = []
        position = 0
        for index in sorted(sources):
            cell, span = self.cells[index - 1], self.source_spans[index - 1]
            if span is None or sources[index] == cell.source:
                continue
            pieces.append(self.text[position: span.start])
            pieces.append(self._encoded_source(cell, span, sources[index], ascii_only))
            position = span.end
        pieces.append(self.text[position:])
        return "".join(pieces)

    def _encoded_source(self, cell: Cell, span: SourceSpan, new: str, ascii_only: bool) -> str:
        if not cell.as_list:
            return json.dumps(new, ensure_ascii=ascii_only)
        import difflib  # here: only a fix writes a notebook, and a lint never needs difflib
        old_lines, new_lines = split_lines(cell.source), split_lines(new)
        written = [self.text[start: string_end(self.text, start)] for start in span.items]
        items: list[str] = []
        matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
        for tag, a1, a2, b1, b2 in matcher.get_opcodes():
            if tag == "equal" and len(written) == len(old_lines):
                items.extend(written[a1:a2])
            else:
                items.extend(json.dumps(line, ensure_ascii=ascii_only) for line in new_lines[b1:b2])
        if not items:
            return "[]"
        raw = self.text[span.start: span.end]
        if span.items:
            opening = raw[: span.items[0] - span.start]
            closing = raw[string_end(raw, span.items[-1] - span.start):]
            if len(span.items) > 1:
                separator = raw[string_end(raw, span.items[0] - span.start): span.items[1] - span.start]
            else:
                separator = "," + opening[1:] if "\n" in opening else ", "
        else:  # an empty list: nbformat's layout, indented one step past the "source" key
            indent = indent_at(self.text, span.start)
            opening, closing, separator = f"[\n{indent} ", f"\n{indent}]", f",\n{indent} "
        return opening + separator.join(items) + closing


# --- reading ---------------------------------------------------------------------------------------------
def _problem(message: str) -> UnreadableSource:
    return UnreadableSource(f"Not a readable notebook: {message}")


def read_notebook(text: str) -> Notebook:
    """The notebook in `text`; UnreadableSource (FL001) saying what is wrong when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableSource(f"Not a readable notebook: invalid JSON ({error.msg})", error.lineno, error.colno) from None
    except RecursionError:
        raise _problem("the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise _problem(f"the JSON holds {type(data).__name__ if data is not None else 'null'}, not a notebook object")
    version = data.get("nbformat")
    if "worksheets" in data or (isinstance(version, int) and version < 4):
        raise UnreadableSource(
            f"Unsupported notebook format: nbformat {version if version is not None else '3'} (featlint reads "
            "nbformat 4; convert it with `jupyter nbconvert --to notebook --nbformat 4`)"
        )
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise _problem("it has no `cells` list" if raw_cells is None else "`cells` is not a list")
    cells = [_cell(index, raw) for index, raw in enumerate(raw_cells, start=1)]
    notes: list[str] = []
    language = _language(data.get("metadata"))
    skipped = language is not None and not language.lower().startswith(("python", "ipython"))
    if skipped:
        notes.append(f"skipped: the notebook's kernel runs {language}, not Python")
    return Notebook(text, cells, notes, skipped)


def _cell(index: int, raw: object) -> Cell:
    if not isinstance(raw, dict):
        raise _problem(f"cell {index} is not a JSON object")
    kind = raw.get("cell_type")
    if not isinstance(kind, str):
        raise _problem(f"cell {index} has no `cell_type`")
    source = raw.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        text, as_list = "".join(source), True
    elif isinstance(source, str):
        text, as_list = source, False
    else:
        raise _problem(f"cell {index}: `source` is neither a string nor a list of strings")
    count = raw.get("execution_count")
    return Cell(index, kind, text, count if isinstance(count, int) and not isinstance(count, bool) else None, as_list)


def _language(metadata: object) -> str | None:
    """The kernel's language, when the notebook says; None means Python (nothing to go on)."""
    if not isinstance(metadata, dict):
        return None
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str) and section[field]:
            return str(section[field])
    return None

