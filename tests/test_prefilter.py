"""The prefilter must never change a result: findings with and without it are identical.

Checked on every example of every rule, on the fixtures, and on a fixed sample of the installed torch and
torchvision sources (the whole corpus, ~2,500 files, is `benchmarks/bench_prefilter.py`: too slow for CI).
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import pytest

from featlint.running.engine import check_text
from featlint.running.results import FileResult
from featlint.running.prefilter import may_fire, python_parses
from featlint.rules import ALL_RULES
from featlint.rules.base import Rule
from featlint.rules.fl101_requires_grad_typo import RequiresGradTypo, is_requires_grad_typo

REPO = Path(__file__).resolve().parents[1]
EVERY_RULE = [rule() for rule in ALL_RULES]
TORCH_SAMPLE_STEP = 50  # every 50th file of the sorted corpus: 51 files


def _outcome(result: FileResult) -> tuple[object, ...]:
    return (result.diagnostics, [str(e) for e in result.errors], result.warnings)


def _assert_same(text: str, path: str, rules: list[Rule] = EVERY_RULE) -> None:
    with_prefilter = check_text(text, path, rules, prefilter=True)
    without = check_text(text, path, rules, prefilter=False)
    assert _outcome(with_prefilter) == _outcome(without), path


def _examples() -> list[tuple[str, str]]:
    cases = []
    for rule in ALL_RULES:
        blocks = re.findall(r"```python\n(.*?)```", rule.documentation(), flags=re.S)
        for i, code in enumerate((*rule.fires, *rule.silent, *blocks)):
            cases.append((f"{rule.code}-{i}", code))
    return cases


@pytest.mark.parametrize(("name", "code"), _examples(), ids=[name for name, _ in _examples()])
def test_rule_examples_are_unchanged_by_the_prefilter(name: str, code: str) -> None:
    _assert_same(code, f"{name}.py")


def test_every_fires_example_passes_its_rules_token_test() -> None:
    """A rule whose `requires_tokens` forgot a spelling fails here before it misses a real finding."""
    missed = [(rule.code, code) for rule in ALL_RULES for code in rule.fires if not rule.may_fire(code)]
    assert missed == []


@pytest.mark.parametrize("path", sorted(REPO.glob("fixtures/**/*.py")), ids=lambda p: p.name)
def test_fixtures_are_unchanged_by_the_prefilter(path: Path) -> None:
    _assert_same(path.read_text(encoding="utf-8"), path.as_posix())


def _torch_sample() -> list[Path]:
    roots = []
    for package in ("torch", "torchvision"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            roots.append(Path(spec.origin).parent)
    files = sorted(path for root in roots for path in root.rglob("*.py"))
    return files[::TORCH_SAMPLE_STEP]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_a_fixed_sample_of_torch_and_torchvision_is_unchanged_by_the_prefilter() -> None:
    """Once with every rule, and once with only the rules that declare a token test (a rule without one is
    always run, so with every rule few files are skipped: the second selection exercises the skipping)."""
    declared = [rule for rule in EVERY_RULE if not rule.may_fire("")]
    sample = _torch_sample()
    skipped = 0
    for path in sample:
        text = path.read_text(encoding="utf-8", errors="replace")
        for rules in (EVERY_RULE, declared):
            _assert_same(text, path.as_posix(), rules)
        skipped += not may_fire(text, declared)
    assert len(sample) > 40 and 0 < skipped < len(sample)  # the sample exercises both paths


def _edits(word: str, alphabet: str) -> set[str]:
    """Every string one edit (insert, delete, substitute, swap) away from `word`."""
    out = set()
    for i in range(len(word) + 1):
        for letter in alphabet:
            out.add(word[:i] + letter + word[i:])
        if i < len(word):
            out.add(word[:i] + word[i + 1:])
            out.update(word[:i] + letter + word[i + 1:] for letter in alphabet)
        if i < len(word) - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
    return out


def test_fl101_token_test_accepts_every_near_miss_the_rule_reports() -> None:
    alphabet = "abcdegiqrsuGR_"
    one = _edits("requires_grad", alphabet)
    two = {w for w in random.Random(7).sample(sorted(one), 40) for w in _edits(w, alphabet)}
    typos = [w for w in one | two if w.isidentifier() and is_requires_grad_typo(w)]
    assert len(typos) > 500
    missed = [w for w in typos if not RequiresGradTypo.may_fire(f"p.{w} = False\n")]
    assert missed == []


def test_fl101_token_test_rejects_unrelated_identifiers() -> None:
    assert not RequiresGradTypo.may_fire("x.requires_grad = False\nmodel.register_buffer('grad', t)\n")


def test_a_syntax_error_is_reported_even_when_no_rule_could_fire() -> None:
    result = check_text("def broken(:\n    pass\n", "broken.py", EVERY_RULE)
    assert [d.code for d in result.diagnostics] == ["FL001"]
    assert not python_parses("def broken(:\n")
