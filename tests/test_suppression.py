from __future__ import annotations

import pytest

from featlint import lint_source

TYPO = "p.require_grad = False"


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("# noqa", True),
        ("#noqa", True),
        ("# NOQA", True),
        ("# noqa: FL101", True),
        ("# noqa:FL101", True),
        ("# noqa: E501, FL101", True),
        ("# noqa: E501 FL101 because it is a demo", True),
        ("# noqa: FL102", False),
        ("# noqa:", False),
        ("# noqa-ish", False),
        ("# type: ignore  # noqa: FL101", True),
        ("# not a noqa", False),
        ("# NOQA: fl101", True),
        ("# noqa: Fl101, e501", True),
        ("# noqa: fl102", False),
    ],
)
def test_inline_noqa(comment: str, suppressed: bool) -> None:
    found = lint_source(f"{TYPO}  {comment}\n")
    assert (found == []) is suppressed


def test_noqa_inside_a_string_suppresses_nothing() -> None:
    assert lint_source(f'{TYPO}; s = "# noqa"\n')


def test_noqa_at_the_end_of_a_multi_line_statement_covers_all_of_it() -> None:
    source = "import torch\nopt = torch.optim.SGD(\n    params,\n    lr=(\n        100\n    ),\n){}\nx = 1\n"
    assert [d.code for d in lint_source(source.format(""))] == ["FL401"]
    assert lint_source(source.format("  # noqa: FL401")) == []
    assert lint_source(source.format("  # noqa: FL101")) != []
    # ...but not a noqa on the line after the statement.
    assert lint_source(source.format("").replace("x = 1", "x = 1  # noqa")) != []


def test_lower_case_codes_are_codes_not_an_empty_noqa() -> None:
    from featlint.rules import RULES_BY_CODE
    from featlint.suppression import parse_suppressions

    found = parse_suppressions("x = 1  # NOQA: fl305\ny = 2  # noqa: fl999\n# featlint: noqa: fl101\n", RULES_BY_CODE)
    assert found.lines == {1: frozenset({"FL305"}), 2: frozenset({"FL999"})} and found.file == frozenset({"FL101"})
    assert found.warnings == ["line 2: unknown rule code FL999 in a noqa comment"]


def test_noqa_applies_only_to_its_own_line() -> None:
    found = lint_source(f"{TYPO}  # noqa\n{TYPO}\n")
    assert [d.start.row for d in found] == [2]


@pytest.mark.parametrize(
    ("header", "suppressed"),
    [("# featlint: noqa", True), ("# featlint: noqa: FL101", True), ("# featlint: noqa: FL401", False),
     ("# flake8: noqa", True), ("x = 1  # featlint: noqa", False)],
)
def test_file_level(header: str, suppressed: bool) -> None:
    assert (lint_source(f"{header}\n{TYPO}\n") == []) is suppressed


def test_the_readme_multi_line_noqa_example_does_what_the_readme_says() -> None:
    import re

    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if ")  # noqa: FL401" in b)
    source = f"import torch\n{block}"
    assert lint_source(source) == []
    assert [d.code for d in lint_source(source.replace("  # noqa: FL401", ""))] == ["FL401"]
