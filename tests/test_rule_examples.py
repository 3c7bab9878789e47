"""Every rule's own examples, and the code blocks of its documentation, run as tests."""

from __future__ import annotations

import re

import pytest

from featlint import lint_source
from featlint.rules import ALL_RULES
from featlint.rules.base import InputRule, Rule, RuntimeRule
from featlint.running.engine import check_text

from .notebook_form import notebook

SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def _cases(attribute: str) -> list[tuple[type[Rule], int, str]]:
    return [(rule, i, code) for rule in ALL_RULES for i, code in enumerate(getattr(rule, attribute))]


def _codes(source: str, rule: type[Rule]) -> list[str]:
    """The codes `rule` reports on `source`; an internal error fails the test (lint_source would drop it, and
    an example that crashes its rule is silent for the wrong reason)."""
    text, path = (notebook(source), "example.ipynb") if rule.examples_are_notebooks else (source, "example.py")
    result = check_text(text, path, [rule()])
    assert result.errors == [], [str(e) for e in result.errors]
    return [d.code for d in result.diagnostics]


@pytest.mark.parametrize(("rule", "index", "source"), _cases("fires"), ids=lambda v: getattr(v, "code", None))
def test_example_fires(rule: type[Rule], index: int, source: str) -> None:
    assert rule.code in _codes(source, rule), f"{rule.code} example {index} did not fire:\n{source}"


@pytest.mark.parametrize(("rule", "index", "source"), _cases("silent"), ids=lambda v: getattr(v, "code", None))
def test_example_stays_silent(rule: type[Rule], index: int, source: str) -> None:
    assert _codes(source, rule) == [], f"{rule.code} example {index} fired:\n{source}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_has_examples_both_ways(rule: type[Rule]) -> None:
    if issubclass(rule, RuntimeRule):
        pytest.skip("runtime-only: its examples are run for real by tests/test_runtime_rules_docs.py")
    assert rule.fires and rule.silent


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_documentation_has_ruff_sections_and_runnable_examples(rule: type[Rule]) -> None:
    doc = rule.documentation()
    positions = [doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), doc
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 2
    example = doc[positions[2]:positions[3]]
    correction = doc[positions[3]:]
    bad = re.search(r"```python\n(.*?)```", example, flags=re.S)
    good = re.search(r"```python\n(.*?)```", correction, flags=re.S)
    assert bad and good
    if issubclass(rule, RuntimeRule):
        return  # reading the source finds nothing; tests/test_runtime_rules_docs.py runs these blocks
    assert rule.code in _codes(bad.group(1), rule)
    # The correction is what a reader copies: it must be clean under every default rule, not only its own
    # (FL101's once froze a model built without weights, which FL803 reports).
    for block in re.findall(r"```python\n(.*?)```", correction, flags=re.S):
        linted = lint_source(notebook(block), "example.ipynb") if rule.examples_are_notebooks else lint_source(block)
        found = [f"{d.code} {d.start.row}: {d.message}" for d in linted]
        assert found == [], f"{rule.code}'s 'Use instead' is not clean under the default rules:\n{block}\n{found}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_metadata(rule: type[Rule]) -> None:
    assert re.fullmatch(r"FL\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.summary and "\n" not in rule.summary
    if rule.fixable and not issubclass(rule, InputRule):
        path = "example.ipynb" if rule.examples_are_notebooks else "<string>"
        sources = [notebook(src) if rule.examples_are_notebooks else src for src in rule.fires]
        fixed = [d for src in sources for d in lint_source(src, path, select=[rule.code]) if d.fix]
        assert fixed, f"{rule.code} claims a fix but no example carries one"


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
