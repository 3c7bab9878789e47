from __future__ import annotations

from featlint.docs import rules_reference, with_rule_table

from .conftest import REPO


def test_readme_rule_table_is_generated_from_the_registry() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_rule_table(readme) == readme, "run `python scripts/gen_docs.py`"


def test_rules_reference_is_up_to_date() -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == rules_reference(), (
        "run `python scripts/gen_docs.py`"
    )
