"""The codes, names, severities and defaults are a contract with users: they must match the catalogue."""

from __future__ import annotations

import re

import pytest

from featlint.rules import ALL_RULES

from .conftest import SHARED

SEVERITY = {"E": "error", "W": "warning", "I": "info"}


def _catalogue() -> dict[str, tuple[str, str, str | None]]:
    """code -> (name, severity, default); the default is None where the catalogue's table has no default column
    (the runtime-only FL7 table): the catalogue then leaves it to the rule, whose docs must say why."""
    rows = {}
    for line in (SHARED / "rules.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"FL\d{3}", cells[0]):
            default = cells[3] if cells[3] in ("on", "off (opt-in)") else None
            rows[cells[0]] = (cells[1], SEVERITY[cells[2]], default)
    return rows


@pytest.mark.skipif(not (SHARED / "rules.md").is_file(),
                    reason="maintainers' check: the rule catalogue ../shared/rules.md is not beside this clone")
def test_every_rule_matches_the_catalogue() -> None:
    """One test for the whole registry, so that a clone without the catalogue skips once, not once per rule;
    a mismatch lists every rule that differs."""
    catalogue = _catalogue()
    differing = [
        f"{rule.code}: featlint has {(rule.name, rule.severity.value, rule.default_enabled)}, "
        f"the catalogue {catalogue.get(rule.code)}"
        for rule in ALL_RULES
        if catalogue.get(rule.code) is None
        or (rule.name, rule.severity.value) != catalogue[rule.code][:2]
        or (catalogue[rule.code][2] is not None and rule.default_enabled != (catalogue[rule.code][2] == "on"))
    ]
    assert differing == []
