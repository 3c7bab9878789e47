"""Applying the rules' fixes: `featlint check --fix`, `--diff`, and the editor's "fix all".

Rules compute their fixes as text edits at positions libcst gave them; applying those edits to the source
text keeps every other byte (formatting, comments, line endings) as it was. One pass applies the fixes of
several findings that do not overlap; the file is then linted again and the next pass picks up what the
first had to skip (two fixes touching the same text), until nothing applicable is left. A pass whose result
does not parse is thrown away, so a file is never written in a state Python cannot read.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import re
import tokenize
from collections.abc import Callable, Sequence
from pathlib import Path

from featlint.config import SettingsResolver
from featlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location
from featlint.running.engine import check_text
from featlint.running.results import FileResult
from featlint.running.session import RunResult
from featlint.reading.notebook import is_notebook, read_notebook
from featlint.reading.piecewise import parse_module
from featlint.rules.base import Rule
from featlint.reading.source import UnreadableSource, decode_source

# ruff needs up to 100 passes for its hundreds of rules; ours converge in two (a shared import, then the rest).
MAX_PASSES = 10
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_NEWLINE = re.compile(r"\r\n|\r|\n")


def is_applicable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    fix = diagnostic.fix
    if fix is None or not fix.edits:
        return False
    return fix.applicability is Applicability.SAFE or (unsafe and fix.applicability is Applicability.UNSAFE)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python's tokenizer (and libcst) ends a line."""
    return _LINE.findall(text)


class _Offsets:
    """1-based (row, column-in-code-points) positions to indexes into the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for line in split_lines(text):
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, location: Location) -> int:
        row = min(max(location.row, 1), len(self.starts))
        return min(self.starts[row - 1] + location.column - 1, len(self.text))

    def after_unterminated_last_line(self, location: Location) -> bool:
        """An insertion on the line after a last line that has no line break (which must get one first)."""
        return location.row >= len(self.starts) and bool(self.text) and not self.text.endswith(("\n", "\r"))


def _newline(text: str) -> str:
    found = _NEWLINE.search(text)
    return found.group() if found else "\n"


def apply_fixes(text: str, diagnostics: Sequence[Diagnostic], *, unsafe: bool = False) -> tuple[str, int]:
    """One pass: the fixes of `diagnostics` that do not overlap, in order of position.

    Returns the new text and how many findings it fixes. A fix whose edits overlap an earlier fix is left
    for the next pass; a fix identical to one already applied (two findings, one cure) counts as fixed.
    """
    offsets = _Offsets(text)
    newline = _newline(text)
    chosen, fixed = _choose(
        diagnostics, unsafe, lambda edit: (offsets(edit.start), offsets(edit.end), _content(edit, newline, offsets))
    )
    return (_splice(text, chosen), fixed) if chosen else (text, 0)


Span = tuple[int, int, str]


def _choose(diagnostics: Sequence[Diagnostic], unsafe: bool, locate: Callable[[Edit], Span | None]) -> tuple[list[Span], int]:
    """The edits of the fixes that apply without overlapping, as (start, end, content) in `locate`'s offsets
    (None: the edit has nowhere to go, and its fix is left out), and how many findings they fix."""
    candidates: list[tuple[int, int, Fix, list[Span]]] = []
    for order, diagnostic in enumerate(diagnostics):
        if not is_applicable(diagnostic, unsafe):
            continue
        assert diagnostic.fix is not None, f"{diagnostic.code} at {diagnostic.path}:{diagnostic.start.row} has no fix"
        located = [locate(edit) for edit in diagnostic.fix.edits]
        if None in located:
            continue
        spans = sorted(span for span in located if span is not None)
        if any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])):
            continue  # a fix that overlaps itself is a bug in its rule: never guess what it meant
        candidates.append((spans[0][0], order, diagnostic.fix, spans))
    candidates.sort(key=lambda item: (item[0], item[1]))
    applied: list[Fix] = []
    chosen: list[Span] = []
    last_end, fixed = -1, 0
    for first_start, _, fix, spans in candidates:
        if fix in applied:
            fixed += 1
            continue
        if first_start < last_end:
            continue
        applied.append(fix)
        chosen.extend(spans)
        last_end = spans[-1][1]
        fixed += 1
    return chosen, fixed


def _splice(text: str, chosen: Sequence[Span]) -> str:
    pieces, position = [], 0
    for start, end, content in chosen:
        pieces.append(text[position:start])
        pieces.append(content)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def apply_notebook_fixes(text: str, diagnostics: Sequence[Diagnostic], *, unsafe: bool = False) -> tuple[str, int]:
    """`apply_fixes` for a notebook's JSON `text`: each edit goes into the `source` of its cell, and every
    other byte of the file stays as it was (notebook.py's `with_sources`)."""
    notebook = read_notebook(text)
    sources = {cell.index: cell.source for cell in notebook.cells if cell.kind == "code"}
    offsets = {index: _Offsets(source) for index, source in sources.items()}
    bases: dict[int, int] = {}
    total = 0
    for index, source in sources.items():  # one offset space, with a gap so that cells never touch
        bases[index] = total
        total += len(source) + 1

    def locate(edit: Edit) -> Span | None:
        if edit.cell not in sources:
            return None
        cell_offsets, base = offsets[edit.cell], bases[edit.cell]
        content = _content(edit, "\n", cell_offsets)
        return base + cell_offsets(edit.start), base + cell_offsets(edit.end), content

    chosen, fixed = _choose(diagnostics, unsafe, locate)
    changed: dict[int, str] = {}
    for index, source in sources.items():
        base = bases[index]
        mine = [(start - base, end - base, content) for start, end, content in chosen if base <= start <= base + len(source)]
        if mine:
            new = _splice(source, mine)
            # Jupyter saves a cell without its last line break: a line added at the end keeps that form.
            changed[index] = new[:-1] if new.endswith("\n") and not source.endswith("\n") else new
    return (notebook.with_sources(changed), fixed) if changed else (text, 0)


def _content(edit: Edit, newline: str, offsets: _Offsets) -> str:
    # Rules write "\n"; a CRLF file keeps CRLF (Python reads both the same, so no string changes value).
    content = edit.content.replace("\n", newline) if newline != "\n" else edit.content
    return newline + content if offsets.after_unterminated_last_line(edit.start) else content


def parses(text: str, path: str = "") -> bool:
    """Both parsers agree the text is Python: libcst (which the next lint needs) and CPython's own. A
    notebook's text is its JSON: then its program must parse."""
    try:
        if is_notebook(path):
            text = read_notebook(text).program
        parse_module(text)
        compile(text, "<fixed>", "exec", ast.PyCF_ONLY_AST)
    except Exception:  # noqa: BLE001 - libcst and compile raise several types for bad input
        return False
    return True


@dataclasses.dataclass
class FixOutcome:
    path: str
    before: str
    after: str
    fixed: int
    result: FileResult  # the lint of `after`: what is left to report
    first: FileResult  # the lint of `before`
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.after != self.before

    @property
    def uncovered(self) -> int:
        """Findings the fixed code shows that the original did not (e.g. a corrected `requires_grad` now
        really freezes, and the optimizer receives frozen parameters): what makes "fixed + remaining" exceed
        the count the user saw before fixing."""
        return max(0, self.fixed + len(self.result.diagnostics) - len(self.first.diagnostics))


def fix_text(first: FileResult, rules: Sequence[Rule], *, unsafe: bool = False) -> FixOutcome:
    """Fix the text `first` was linted from, pass after pass, until no applicable fix is left."""
    original = first.source or ""
    text, result, fixed = original, first, 0
    apply = apply_notebook_fixes if is_notebook(first.path) else apply_fixes
    warnings: list[str] = []
    seen = {original}
    for _ in range(MAX_PASSES):
        candidates = [d for d in result.diagnostics if is_applicable(d, unsafe)]
        new_text, count = apply(text, candidates, unsafe=unsafe)
        if count and not parses(new_text, first.path):
            # One rule's broken fix must not block the others: keep the fixes that parse on their own.
            broken = [d for d in candidates if not parses(apply(text, [d], unsafe=unsafe)[0], first.path)]
            codes = ", ".join(sorted({d.code for d in broken})) or "several rules"
            warnings.append(
                f"{first.path}: the fixes of {codes} would leave code that does not parse and were not applied "
                "(please report this as a featlint bug)"
            )
            candidates = [d for d in candidates if d not in broken]
            new_text, count = apply(text, candidates, unsafe=unsafe) if broken else (text, 0)
            if not parses(new_text, first.path):
                break
        if count == 0 or new_text == text:
            break
        if new_text in seen:
            warnings.append(f"{first.path}: two fixes undo each other; stopped after {fixed} fixed")
            break
        text, fixed = new_text, fixed + count
        result = check_text(text, first.path, rules)
        seen.add(text)
    else:
        if any(is_applicable(d, unsafe) for d in result.diagnostics):
            warnings.append(f"{first.path}: fixes still pending after {MAX_PASSES} passes; run --fix again")
    return FixOutcome(first.path, original, text, fixed, result, first, warnings)


def write_fixed(path: Path, outcome: FixOutcome) -> str | None:
    """Write the fixed text in the file's own encoding; the reason when it cannot be written safely."""
    try:
        data = path.read_bytes()
        if decode_source(data) != outcome.before:
            return f"{outcome.path}: the file changed while featlint was fixing it; not written"
        path.write_bytes(encoded_as(outcome.after, data))
    except (OSError, UnreadableSource) as error:
        return f"{outcome.path}: cannot write the fixes: {getattr(error, 'strerror', None) or error}"
    except UnicodeEncodeError as error:
        return f"{outcome.path}: the fixed text cannot be written in the file's encoding ({error.encoding})"
    return None


def encoded_as(text: str, original: bytes) -> bytes:
    """`text` in the encoding `original` was read in (a BOM or a coding line keeps its meaning)."""
    return text.encode(_encoding(original))


def _encoding(data: bytes) -> str:
    # The same reading as source.decode_source (a BOM gives "utf-8-sig", which writes the BOM back).
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return "utf-8"


def unified_diff(outcome: FixOutcome) -> str:
    """A `diff -u` of one file's fixes, ready for `patch -p0` or `git apply -p0`; for a notebook, ruff's
    readable form: one diff per changed cell, headed `nb.ipynb:cell 3`, of the cell's code."""
    if is_notebook(outcome.path):
        before, after = read_notebook(outcome.before).cells, read_notebook(outcome.after).cells
        return "".join(
            "".join(difflib.unified_diff(
                _diff_lines(old.source), _diff_lines(new.source),
                fromfile=f"{outcome.path}:cell {old.index}", tofile=f"{outcome.path}:cell {old.index}",
            ))
            for old, new in zip(before, after) if old.source != new.source
        )
    lines = difflib.unified_diff(
        _diff_lines(outcome.before), _diff_lines(outcome.after), fromfile=outcome.path, tofile=outcome.path
    )
    return "".join(lines)


def _diff_lines(text: str) -> list[str]:
    lines = split_lines(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


# Maps a run's display path to the file on disk and the rules its settings select.
RulesFor = Callable[[str], tuple[Path, Sequence[Rule]]]


@dataclasses.dataclass
class FixRun:
    result: RunResult  # the run as it stands after fixing: what is left to report
    outcomes: list[FixOutcome]
    warnings: list[str]

    @property
    def fixed(self) -> int:
        return sum(outcome.fixed for outcome in self.outcomes)

    @property
    def uncovered(self) -> int:
        return sum(outcome.uncovered for outcome in self.outcomes)


def fix_run(run: RunResult, rules_for: RulesFor, *, unsafe: bool = False, write: bool = True) -> FixRun:
    """Fix every file of a finished run that has an applicable fix; with `write`, save the results."""
    files: list[FileResult] = []
    outcomes: list[FixOutcome] = []
    warnings: list[str] = []
    for file in run.files:
        if file.source is None or not any(is_applicable(d, unsafe) for d in file.diagnostics):
            files.append(file)
            continue
        path, rules = rules_for(file.path)
        outcome = fix_text(file, rules, unsafe=unsafe)
        warnings.extend(outcome.warnings)
        if outcome.changed and write:
            problem = write_fixed(path, outcome)
            if problem is not None:
                warnings.append(problem)
                files.append(file)
                continue
        outcomes.append(outcome)
        files.append(outcome.result if outcome.changed else file)
    return FixRun(dataclasses.replace(run, files=files), [o for o in outcomes if o.changed], warnings)


def rules_from(resolver: SettingsResolver) -> RulesFor:
    """What `fix_run` needs from the command line's settings: each file's own rules, as the run used them."""

    def rules_for(display: str) -> tuple[Path, Sequence[Rule]]:
        path = resolver.cwd.absolute() / display  # display paths are relative to the working directory
        return path, resolver.for_file(path).rules_for(path)

    return rules_for


def fix_counts(diagnostics: Sequence[Diagnostic], unsafe: bool) -> tuple[int, int]:
    """(findings `--fix` would fix, findings only `--unsafe-fixes` would add) for the summary's hints."""
    fixable = sum(1 for d in diagnostics if is_applicable(d, unsafe))
    hidden = sum(1 for d in diagnostics if not is_applicable(d, unsafe) and is_applicable(d, True))
    return fixable, hidden
