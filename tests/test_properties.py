"""Property tests: whatever program featlint is given, it raises nothing, reports no internal error, keeps
every span inside the file, and every fix it offers leaves code that parses.

Programs come from hypothesmith (Python's grammar), around the rules' own must-fire examples so that the
rules, their positions and their fixes are exercised and not only the parser. Derandomized with a modest
number of examples so that CI is stable and fast.
"""

from __future__ import annotations

import ast
import warnings

import pytest

hypothesmith = pytest.importorskip("hypothesmith", reason="hypothesmith is in the dev extra")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402 - hypothesmith brings hypothesis
from hypothesis import strategies as st

from featlint import lint_source
from featlint.diagnostics import Diagnostic
from featlint.running.engine import _rules, check_text
from featlint.fixes import apply_fixes, split_lines
from featlint.rules import ALL_RULES

EVERY_RULE = _rules(["ALL"])
FIRES = sorted({example for rule in ALL_RULES for example in rule.fires})
PROPERTY = settings(
    max_examples=25, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def _compiles(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<property>", "exec", ast.PyCF_ONLY_AST)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def _indented(example: str) -> str:
    return "def generated_function():\n" + "".join(f"    {line}" for line in split_lines(example)) + "\n"


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A generated program with one of the rules' must-fire examples in it, at module level or in a function."""
    generated = draw(hypothesmith.from_grammar())
    example = draw(st.sampled_from(FIRES))
    if draw(st.booleans()):
        example = _indented(example)
    text = f"{generated.rstrip()}\n{example}" if draw(st.booleans()) else f"{example.rstrip()}\n{generated}"
    assume(_compiles(text))
    return text


def _assert_spans_inside(text: str, diagnostics: list[Diagnostic]) -> None:
    lines = split_lines(text) or [""]
    for d in diagnostics:
        assert d.start <= d.end, d
        for location in (d.start, d.end):
            assert 1 <= location.row <= len(lines) + 1, d
            width = len(lines[location.row - 1].rstrip("\r\n")) if location.row <= len(lines) else 0
            assert 1 <= location.column <= width + 1, (d, lines[location.row - 1] if location.row <= len(lines) else "")
        if d.fix is not None:
            for edit in d.fix.edits:
                assert edit.start <= edit.end and 1 <= edit.start.row <= len(lines) + 1, d


@PROPERTY
@given(hypothesmith.from_grammar())
def test_any_program_lints_without_an_error(text: str) -> None:
    result = check_text(text, "generated.py", EVERY_RULE, prefilter=False)  # parse and analyse every program
    assert result.errors == []
    _assert_spans_inside(text, result.diagnostics)


@settings(PROPERTY, max_examples=15)  # hypothesmith takes ~0.5 s to generate each of these
@given(programs())
def test_findings_in_generated_programs_stay_inside_the_file_and_their_fixes_parse(text: str) -> None:
    result = check_text(text, "generated.py", EVERY_RULE)
    assert result.errors == []
    assert all(d.code != "FL001" for d in result.diagnostics), result.diagnostics
    _assert_spans_inside(text, result.diagnostics)
    for d in result.diagnostics:
        if d.fix is not None:
            fixed, count = apply_fixes(text, [d], unsafe=True)
            assert count == 1 and _compiles(fixed), (d, fixed)


@PROPERTY
@given(st.sampled_from(FIRES), st.data())
def test_damaged_examples_and_raw_bytes_are_reported_never_raised(example: str, data: st.DataObject) -> None:
    raw = example.encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)))
    noise = data.draw(st.binary(max_size=8))
    damaged = raw[:cut] + noise + raw[cut + data.draw(st.integers(0, 4)):]
    diagnostics = lint_source(damaged, path="damaged.py", select=["ALL"])
    try:
        text = damaged.decode("utf-8")
    except UnicodeDecodeError:
        assert [d.code for d in diagnostics] == ["FL001"]
        return
    if "\x00" not in text:
        _assert_spans_inside(text, diagnostics)

