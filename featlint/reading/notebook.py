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
import io
import json
import re
import tokenize
from collections.abc import Mapping, Sequence

from featlint.reading.source import UnreadableSource

NOTEBOOK_SUFFIX = ".ipynb"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
# Cell magics whose body is Python that IPython runs as it stands; any other `%%magic` (bash, writefile,
# html, javascript, sql, ...) means the cell is not Python and is left out.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "python", "python3", "debug", "memit"})
# Line magics followed by a Python statement that IPython runs.
_CODE_MAGIC = re.compile(r"%(?:time|timeit|prun|memit)\s+(?:-[a-zA-Z](?:\s*\d+(?:\.\d+)?)?\s+)*(?=\S)")
_MAGIC_START = re.compile(r"[ \t]*(?:%|!|\?)")
# `model?`, `model.fc??`, `?model`, `??torch.nn`: IPython's help.
_HELP = re.compile(r"[ \t]*(?:\?{1,2}[\w.*]+|[\w.*\[\]()]+\?{1,2})\s*$")
# `files = !ls`, `out = %sx ls`: a name bound to a shell command's output.
_ASSIGNED_MAGIC = re.compile(r"[ \t]*[\w.\[\], ]+?\s*=\s*[%!]")
_CANDIDATE = re.compile(r"^[ \t]*[%!?]|\?\s*$|=\s*[%!]", re.MULTILINE)


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python's tokenizer ends a line."""
    return _LINE.findall(text)


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


@dataclasses.dataclass(frozen=True)
class SourceSpan:
    """Where one cell's `source` value sits in the JSON text."""

    start: int
    end: int
    items: tuple[int, ...]  # offsets of the list's strings (one line each); empty for a single string


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
        return _source_spans(self.text, len(self.cells))

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
        written = [self.text[start: _string_end(self.text, start)] for start in span.items]
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
            closing = raw[_string_end(raw, span.items[-1] - span.start):]
            if len(span.items) > 1:
                separator = raw[_string_end(raw, span.items[0] - span.start): span.items[1] - span.start]
            else:
                separator = "," + opening[1:] if "\n" in opening else ", "
        else:  # an empty list: nbformat's layout, indented one step past the "source" key
            indent = _indent_at(self.text, span.start)
            opening, closing, separator = f"[\n{indent} ", f"\n{indent}]", f",\n{indent} "
        return opening + separator.join(items) + closing


def _indent_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    line = text[start:offset]
    return line[: len(line) - len(line.lstrip())]


def _string_end(text: str, start: int) -> int:
    """The offset just past the JSON string that starts (with its quote) at `start`."""
    return json.decoder.scanstring(text, start + 1)[1]


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, offset: int) -> int:
    return _SPACE.match(text, offset).end()  # type: ignore[union-attr]


def _members(text: str, offset: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the JSON object at `offset` (already known to be valid JSON)."""
    found = []
    offset = _skip(text, offset + 1)
    while text[offset] != "}":
        key, offset = json.decoder.scanstring(text, offset + 1)
        offset = _skip(text, _skip(text, offset) + 1)  # past the colon
        _, end = _DECODER.raw_decode(text, offset)
        found.append((key, offset, end))
        offset = _skip(text, end)
        if text[offset] == ",":
            offset = _skip(text, offset + 1)
    return found


def _items(text: str, start: int) -> list[int]:
    """Offsets of the values of the JSON array at `start`."""
    found = []
    offset = _skip(text, start + 1)
    while text[offset] != "]":
        found.append(offset)
        _, offset = _DECODER.raw_decode(text, offset)
        offset = _skip(text, offset)
        if text[offset] == ",":
            offset = _skip(text, offset + 1)
    return found


def _source_spans(text: str, count: int) -> list[SourceSpan | None]:
    top = {key: (start, end) for key, start, end in _members(text, _skip(text, 0))}
    spans: list[SourceSpan | None] = []
    for cell_start in _items(text, top["cells"][0]):
        source = next(((s, e) for key, s, e in _members(text, cell_start) if key == "source"), None)
        if source is None:
            spans.append(None)
            continue
        start, end = source
        items = tuple(_items(text, start)) if text[start] == "[" else ()
        spans.append(SourceSpan(start, end, items))
    return spans + [None] * (count - len(spans))


# --- IPython syntax -------------------------------------------------------------------------------------
def python_lines(source: str) -> tuple[list[str], dict[int, int]]:
    """The cell as Python lines, one for each of its lines; [] when the cell is not Python (`%%bash`).

    Returns the lines and, by 1-based cell row, how many characters were taken from the start of a line
    (`%time x = f()` becomes `x = f()`)."""
    lines = split_lines(source)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    shifts: dict[int, int] = {}
    if first is not None and lines[first][:1] in (" ", "\t"):
        # IPython's leading_indent: a cell whose first line is indented runs with that indent taken from
        # every line that starts with it.
        prefix = lines[first][: len(lines[first]) - len(lines[first].lstrip(" \t"))]
        for index, line in enumerate(lines):
            if line.startswith(prefix):
                lines[index] = line[len(prefix):]
                shifts[index + 1] = len(prefix)
    if not lines or not _CANDIDATE.search(source):
        return lines, shifts
    changed: dict[int, str] = {}
    start = 0
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = re.match(r"\s*%%(\w*)", lines[first])
        if name is None or name.group(1) not in PYTHON_CELL_MAGICS:
            return [], {}
        changed[first] = _placeholder(lines[first], "")
        start = first + 1
    continued = False
    for index in range(start, len(lines)):
        line = lines[index]
        body = line.rstrip("\r\n")
        if continued:
            changed[index] = _placeholder(line, indent)
        elif _MAGIC_START.match(body) or _HELP.match(body) or _ASSIGNED_MAGIC.match(body):
            indent = body[: len(body) - len(body.lstrip())]
            code = _CODE_MAGIC.match(body, len(indent))
            rest = body[code.end():] if code is not None else ""
            if code is not None and not rest.rstrip().endswith("\\") and _compiles(rest):
                changed[index] = indent + rest + line[len(body):]
                shifts[index + 1] = shifts.get(index + 1, 0) + code.end() - len(indent)
            else:
                changed[index] = _placeholder(line, indent)
        else:
            continue
        continued = body.endswith("\\")
    if changed:
        _keep_inside_strings(lines, changed)
    for index, text in changed.items():
        lines[index] = text
    return lines, shifts


def _placeholder(line: str, indent: str) -> str:
    ending = line[len(line.rstrip("\r\n")):]
    return f"{indent}pass{ending}"


def _compiles(code: str) -> bool:
    try:
        compile(code, "<magic>", "exec", 0x400)  # ast.PyCF_ONLY_AST, without importing ast
    except (SyntaxError, ValueError):
        return False
    return True


def _keep_inside_strings(lines: list[str], changed: dict[int, str]) -> None:
    """Undo the replacements of lines that do not start a statement: inside a triple-quoted string or
    brackets, `%d items` or `!x` is text or an operand, not IPython syntax."""
    trial = [changed.get(i, line) for i, line in enumerate(lines)]
    starts: set[int] = set()
    expect_start = True
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(trial)).readline):
            if token.type in (tokenize.NEWLINE, tokenize.NL) and depth == 0:
                expect_start = True
                continue
            if token.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENCODING):
                continue
            if expect_start:
                starts.add(token.start[0] - 1)
                expect_start = False
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(depth - 1, 0)
    except tokenize.TokenError:
        pass  # an unclosed bracket at the end: the lines read so far still say where statements start
    except SyntaxError:
        return
    continuation = {i for i in changed if i - 1 in changed and lines[i - 1].rstrip("\r\n").endswith("\\")}
    for index in [i for i in changed if i not in starts and i not in continuation]:
        del changed[index]


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

