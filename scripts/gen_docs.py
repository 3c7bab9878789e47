"""Regenerate docs/rules.md and the rule table in README.md from the rule registry."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from featlint.docs import rules_reference, with_rule_table  # noqa: E402


def main() -> None:
    (REPO / "docs").mkdir(exist_ok=True)
    (REPO / "docs" / "rules.md").write_text(rules_reference(), encoding="utf-8")
    readme = REPO / "README.md"
    readme.write_text(with_rule_table(readme.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
