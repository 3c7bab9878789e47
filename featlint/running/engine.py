"""Lint a file: read, parse once, analyse once, run every selected rule over the shared analysis, apply
`# noqa`. Nothing a file contains stops the run: unreadable input becomes FL001, and a rule that crashes
becomes an internal error naming the file and the rule, with the other rules' findings kept."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from featlint.analysis import FileAnalysis
from featlint.config import expand
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Location
from featlint.reading.nesting import check_depth, deep_recursion, too_deeply_nested
from featlint.reading.piecewise import parse_module
from featlint.running.prefilter import may_fire, python_parses
from featlint.rules import ALL_RULES, RULES_BY_CODE
from featlint.rules.base import Rule
from featlint.rules.fl001_unreadable_file import UnreadableFile
from featlint.reading.source import UnreadableSource, decode_source, read_source
from featlint.running.results import FileResult, InternalError
from featlint.suppression import parse_suppressions

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


def check_text(text: str, path: str, rules: Sequence[Rule], *, prefilter: bool = True) -> FileResult:
    """`prefilter=False` parses every file, even one no rule can report on (the prefilter's tests compare)."""
    result = FileResult(path, source=text)
    active = [rule for rule in rules if rule.code != UnreadableFile.code]
    reports_unreadable = len(active) != len(rules)
    if prefilter and not may_fire(text, active) and (not reports_unreadable or python_parses(text)):
        return result
    with deep_recursion():
        _check_parsed(text, path, active, reports_unreadable, result)
    return result


def _check_parsed(text: str, path: str, active: Sequence[Rule], reports_unreadable: bool, result: FileResult) -> None:
    try:
        module = _parse(text)
    except UnreadableSource as problem:
        if reports_unreadable:
            result.diagnostics.append(_unreadable(path, problem))
        return
    if not active:
        return
    try:
        found = _run_rules(path, text, module, active, result)
    except RecursionError:  # nesting the depth check cannot see (implicit string concatenation): FL001, not a crash
        if reports_unreadable:
            result.diagnostics.append(_unreadable(path, too_deeply_nested()))
        return
    if found:
        found = list(dict.fromkeys(found))  # a function inlined at several calls reports its finding once
        suppressions = parse_suppressions(text, RULES_BY_CODE)
        result.warnings.extend(f"{path}: {warning}" for warning in suppressions.warnings)
        found = [d for d in found if not suppressions.suppresses(d)]
    result.diagnostics.extend(sorted(found, key=lambda d: d.sort_key))


def _run_rules(path: str, text: str, module: cst.Module, active: Sequence[Rule], result: FileResult) -> list[Diagnostic]:
    """Every rule's findings; a crash is recorded as an internal error and the other rules still run."""
    try:
        context = FileContext(path, text, module, FileAnalysis(module))
    except RecursionError:
        raise
    except Exception as error:  # noqa: BLE001 - one file must never stop the run
        result.errors.append(InternalError(path, None, f"{type(error).__name__}: {error}"))
        return []
    found: list[Diagnostic] = []
    for rule in active:
        try:
            found.extend(rule.check(context))
        except RecursionError:
            raise
        except Exception as error:  # noqa: BLE001
            result.errors.append(InternalError(path, rule.code, f"{type(error).__name__}: {error}"))
    return found


def check_file(path: Path, display: str, rules: Sequence[Rule]) -> FileResult:
    return _check_decoded(lambda: read_source(path), display, rules)


def check_bytes(data: bytes, display: str, rules: Sequence[Rule]) -> FileResult:
    """Source that is no file on disk (standard input), decoded as Python would decode the file."""
    return _check_decoded(lambda: decode_source(data), display, rules)


def _check_decoded(decode: Callable[[], str], display: str, rules: Sequence[Rule]) -> FileResult:
    try:
        text = decode()
    except UnreadableSource as problem:
        result = FileResult(display)
        if any(rule.code == UnreadableFile.code for rule in rules):
            result.diagnostics.append(_unreadable(display, problem))
        return result
    return check_text(text, display, rules)


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
