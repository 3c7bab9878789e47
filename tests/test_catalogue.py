"""The codes, names, severities and defaults are a contract with users: they must match the catalogue."""

from __future__ import annotations

import re

import pytest

from featlint.rules import ALL_RULES

from .conftest import SHARED

SEVERITY = {"E": "error", "W": "warning", "I": "info"}


def _catalogue() -> dict[str, tuple[str, str, str]]:
    path = SHARED / "rules.md"
    if not path.is_file():
        pytest.skip("../shared/rules.md is not beside the repository")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"FL\d{3}", cells[0]):
            default = cells[3] if len(cells) >= 5 and cells[3] in ("on", "off (opt-in)") else "on"
            rows[cells[0]] = (cells[1], SEVERITY[cells[2]], default)
    return rows


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_matches_catalogue(rule) -> None:
    name, severity, default = _catalogue()[rule.code]
    assert rule.name == name
    assert rule.severity.value == severity
    assert rule.default_enabled == (default == "on")
