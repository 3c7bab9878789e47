"""The documentation examples of the runtime-only rules (FL701-FL704) run for real under `featlint run`:
the Example must report the rule and the Use-instead block must not (tests/test_rule_examples.py checks
the static rules' examples and skips these)."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from featlint.rules import ALL_RULES  # noqa: E402
from featlint.rules.base import RuntimeRule  # noqa: E402

from .conftest import run_featlint  # noqa: E402

RUNTIME_RULES = [rule for rule in ALL_RULES if issubclass(rule, RuntimeRule)]


def _blocks(rule: type[RuntimeRule]) -> tuple[str, str]:
    doc = rule.documentation()
    example, correction = doc.split("## Use instead")
    pattern = r"```python\n(.*?)```"
    return re.search(pattern, example, re.S).group(1), re.search(pattern, correction, re.S).group(1)


def _codes(tmp_path, source: str, code: str) -> set[str]:
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    done = run_featlint(["run", "--steps", "3", "--extend-select", code, "--output-format", "json", str(script)])
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return {d["code"] for d in json.loads(done.stdout)["findings"]}


def test_every_runtime_rule_of_the_catalogue_is_registered() -> None:
    assert [rule.code for rule in RUNTIME_RULES] == ["FL701", "FL702", "FL703", "FL704"]


def test_the_childs_table_of_codes_matches_the_registry() -> None:
    """The child of `featlint run` names its findings without the registry (it runs without libcst)."""
    from featlint.rules import RULES_BY_CODE
    from featlint.runtime.codes import RUNTIME_CODES

    assert {code: (RULES_BY_CODE[code].name, RULES_BY_CODE[code].severity) for code in RUNTIME_CODES} == RUNTIME_CODES


@pytest.mark.parametrize("rule", RUNTIME_RULES, ids=lambda r: r.code)
def test_documented_example_fires_and_its_correction_does_not(rule: type[RuntimeRule], tmp_path) -> None:
    bad, good = _blocks(rule)
    assert rule.code in _codes(tmp_path, bad, rule.code)
    assert rule.code not in _codes(tmp_path, good, rule.code)
