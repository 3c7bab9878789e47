"""Lint a file: read, parse once, analyse once, run every selected rule over the shared analysis, apply
`# noqa`. Nothing a file contains stops the run: unreadable input becomes FL001, and a rule that crashes
becomes an internal error naming the file and the rule, with the other rules' findings kept."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from featlint.analysis import FileAnalysis
from featlint.analysis.failure import AnalysisFailed, describe, failing_node
from featlint.config import expand
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Location
from featlint.reading.nesting import check_depth, deep_recursion, too_deeply_nested
from featlint.reading.piecewise import parse_module
from featlint.reading.project import Place
from featlint.running.prefilter import able_to_fire, python_parses
from featlint.rules import ALL_RULES, RULES_BY_CODE
from featlint.rules.base import Rule
from featlint.rules.fl001_unreadable_file import UnreadableFile
from featlint.reading.notebook import Notebook, is_notebook, read_notebook
from featlint.reading.source import UnreadableSource, decode_source, read_source
from featlint.running.cells import into_cells
from featlint.running.results import FileResult, InternalError
from featlint.suppression import parse_suppressions

# Cells that do not parse, each reported and left out, before the notebook is reported as a whole.
MAX_BROKEN_CELLS = 5
_LINE_PREFIX = re.compile(r"line (\d+)(.*)", re.DOTALL)


def _unreadable(path: str, problem: UnreadableSource) -> Diagnostic:
    start = Location(problem.row, problem.column)
    return Diagnostic(
        UnreadableFile.code, UnreadableFile.name, UnreadableFile.severity, problem.message, path, start,
        Location(problem.row, problem.column + 1),
    )


def _python_syntax_error(text: str) -> UnreadableSource | None:
    """Python's own account of a syntax error: the message and column users know from tracebacks,
    where libcst's parser often points past the mistake."""
    try:
        compile(text, "<file>", "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as error:
        return UnreadableSource(f"SyntaxError: {error.msg}", error.lineno or 1, error.offset or 1)
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _parse(text: str) -> cst.Module:
    try:
        # Python's tree, built to measure the depth, goes straight to the parse, which drops it early: held
        # here, it would stay alive, and in memory, through libcst's parse.
        return parse_module(text, check_depth(text))
    except UnreadableSource:
        raise
    except cst.ParserSyntaxError as error:
        raise _python_syntax_error(text) or UnreadableSource(
            f"featlint's parser (libcst) cannot parse this file, although Python can: {error.message}",
            error.raw_line, error.raw_column + 1,
        ) from None
    except RecursionError:
        raise too_deeply_nested() from None
    except Exception as error:  # the native parser reports some inputs with other exception types
        raise UnreadableSource(f"The file cannot be parsed: {error}") from None


def check_text(
    text: str, path: str, rules: Sequence[Rule], *, prefilter: bool = True, location: Path | None = None,
    src: Sequence[Path] = (),
) -> FileResult:
    """`prefilter=False` parses every file, even one no rule can report on (the prefilter's tests compare).
    A notebook's `text` is its JSON: its code cells are linted as one program and findings name their cell.
    `location`: the file on disk, whose project's modules the analysis reads (default: `path`, if a file);
    `src`: the configured roots its absolute imports are also looked up under (`src = [...]`)."""
    found = Place(location or Path(path), tuple(src))
    if is_notebook(path):
        return _check_notebook(text, path, rules, prefilter, found)
    result = FileResult(path, source=text)
    _check_program(text, path, rules, prefilter, result, None, found)
    return result


def _check_notebook(text: str, path: str, rules: Sequence[Rule], prefilter: bool, location: Place) -> FileResult:
    result = FileResult(path, source=text)
    try:
        notebook = read_notebook(text)
    except UnreadableSource as problem:
        if any(rule.code == UnreadableFile.code for rule in rules):
            result.diagnostics.append(_unreadable(path, problem))
        return result
    result.warnings.extend(f"{path}: {note}" for note in notebook.notes)
    broken: list[Diagnostic] = []
    for attempt in range(MAX_BROKEN_CELLS + 1):
        checked = FileResult(path)
        _check_program(notebook.program, path, rules, prefilter, checked, notebook, location)
        found = [into_cells(d, notebook) for d in checked.diagnostics]
        unreadable = next((d for d in found if d.code == UnreadableFile.code and d.cell is not None), None)
        if unreadable is None or attempt == MAX_BROKEN_CELLS:
            break
        # A cell that does not parse is reported, and the others are checked without it, as Jupyter runs them.
        broken.append(dataclasses.replace(
            unreadable, message=f"{unreadable.message} (the other cells were checked without this one)"
        ))
        notebook = notebook.without(unreadable.cell)  # type: ignore[arg-type]
    result.diagnostics = sorted([*broken, *found], key=lambda d: d.sort_key)
    result.depends.update(checked.depends)
    result.errors.extend(checked.errors)
    result.warnings.extend(checked.warnings)
    return result


def _check_program(
    text: str, path: str, rules: Sequence[Rule], prefilter: bool, result: FileResult, notebook: Notebook | None,
    location: Place | None = None,
) -> None:
    active = [rule for rule in rules if rule.code != UnreadableFile.code]
    reports_unreadable = len(active) != len(rules)
    if prefilter:
        active = able_to_fire(text, active)
        if not active and (not reports_unreadable or python_parses(text)):
            return
    with deep_recursion():
        _check_parsed(text, path, active, reports_unreadable, result, notebook, location)


def _check_parsed(
    text: str, path: str, active: Sequence[Rule], reports_unreadable: bool, result: FileResult,
    notebook: Notebook | None, location: Place | None,
) -> None:
    try:
        module = _parse(text)
    except UnreadableSource as problem:
        if reports_unreadable:
            result.diagnostics.append(_unreadable(path, problem))
        return
    if not active:
        return
    try:
        found = _run_rules(path, text, module, active, result, notebook, location)
    except RecursionError:  # nesting the depth check cannot see (implicit string concatenation): FL001, not a crash
        if reports_unreadable:
            result.diagnostics.append(_unreadable(path, too_deeply_nested()))
        return
    if found:
        found = list(dict.fromkeys(found))  # a function inlined at several calls reports its finding once
        suppressions = parse_suppressions(text, RULES_BY_CODE)
        result.warnings.extend(f"{path}: {_in_cell(warning, notebook)}" for warning in suppressions.warnings)
        found = [d for d in found if not suppressions.suppresses(d)]
    result.diagnostics.extend(sorted(found, key=lambda d: d.sort_key))


def _in_cell(warning: str, notebook: Notebook | None) -> str:
    """Suppression warnings begin "line N:"; in a notebook, that line is named by its cell."""
    found = _LINE_PREFIX.match(warning)
    return notebook.where(int(found[1])) + found[2] if notebook is not None and found else warning


def _run_rules(
    path: str, text: str, module: cst.Module, active: Sequence[Rule], result: FileResult, notebook: Notebook | None,
    location: Place | None,
) -> list[Diagnostic]:
    """Every rule's findings. A crashing rule is an internal error and the other rules still run; a shared part
    of the analysis that fails is one internal error for the file, naming every rule that could not read it."""
    try:
        analysis = FileAnalysis(module, location.path if location else None, location.src if location else ())
        context = FileContext(path, text, module, analysis, notebook)
    except RecursionError:
        raise
    except Exception as error:  # noqa: BLE001 - one file must never stop the run
        result.errors.append(InternalError(path, None, describe(error), _line(module, failing_node(error))))
        return []
    found: list[Diagnostic] = []
    parts: dict[str, tuple[AnalysisFailed, list[str]]] = {}
    for rule in active:
        try:
            found.extend(d for d in rule.check(context) if not context.belongs_elsewhere(d))
        except RecursionError:
            raise
        except AnalysisFailed as failure:
            parts.setdefault(failure.part, (failure, []))[1].append(rule.code)
        except Exception as error:  # noqa: BLE001
            line = _line(module, failing_node(error))
            result.errors.append(InternalError(path, rule.code, describe(error), line))
    for part, (failure, codes) in parts.items():
        result.errors.append(
            InternalError(path, None, failure.message, _line(module, failure.node), part=part, rules=tuple(codes))
        )
    if context.analysis.project is not None:
        result.depends.update(context.analysis.project.digests())
    if "story" in context.analysis.__dict__:  # built (cached) by a rule that read it
        result.unhandled.extend(
            f"{path}:{_line(module, u.node) or '?'}: {u.message}" for u in context.analysis.story.unhandled
        )
    return found


def _line(module: cst.Module, node: cst.CSTNode | None) -> int | None:
    """The line of `node` in `module`, or None for a node that is not part of it."""
    if node is None:
        return None
    from featlint.positions import Positions  # loads libcst's code generator: only for the rare failure

    try:
        return Positions(module).span(node)[0][0]
    except Exception:  # noqa: BLE001 - a node built by the analysis itself has no place in the file
        return None


def check_file(path: Path, display: str, rules: Sequence[Rule]) -> FileResult:
    return _check_decoded(lambda: read_source(path), display, rules, path)


def check_bytes(data: bytes, display: str, rules: Sequence[Rule]) -> FileResult:
    """Source that is no file on disk (standard input), decoded as Python would decode the file."""
    return _check_decoded(lambda: decode_source(data), display, rules)


def _check_decoded(
    decode: Callable[[], str], display: str, rules: Sequence[Rule], location: Path | None = None
) -> FileResult:
    try:
        text = decode()
    except UnreadableSource as problem:
        result = FileResult(display)
        if any(rule.code == UnreadableFile.code for rule in rules):
            result.diagnostics.append(_unreadable(display, problem))
        return result
    return check_text(text, display, rules, location=location)


def _rules(select: Iterable[str] | None) -> list[Rule]:
    codes = expand(select, "select") if select is not None else None
    return [rule() for rule in ALL_RULES if (rule.code in codes if codes is not None else rule.default_enabled)]


def lint_source(source: str | bytes, path: str = "<string>", select: Iterable[str] | None = None) -> list[Diagnostic]:
    """Lint one piece of source code; `select` takes codes, prefixes or "ALL" (default: the default rules)."""
    rules = _rules(select)
    if isinstance(source, bytes):
        try:
            source = decode_source(source)
        except UnreadableSource as problem:
            return [_unreadable(path, problem)] if any(r.code == UnreadableFile.code for r in rules) else []
    return check_text(source, path, rules).diagnostics
