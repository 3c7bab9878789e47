from __future__ import annotations

import re
import shlex

from featlint.docs import rules_reference, with_rule_table

from .conftest import REPO


def test_readme_rule_table_is_generated_from_the_registry() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert with_rule_table(readme) == readme, "run `python scripts/gen_docs.py`"


def test_rules_reference_is_up_to_date() -> None:
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == rules_reference(), (
        "run `python scripts/gen_docs.py`"
    )


_EXAMPLE = re.compile(r"<!-- example-output:start -->\n```text\n\$ featlint (?P<args>[^\n]*)\n(?P<output>.*?)```", re.S)


def test_readme_example_outputs_are_the_real_output(featlint) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    examples = list(_EXAMPLE.finditer(readme))
    assert len(examples) >= 2
    for example in examples:
        done = featlint(shlex.split(example.group("args")))
        assert (done.stdout + done.stderr).strip() == example.group("output").strip()


def test_changelog_has_the_current_version_and_the_tag_scheme() -> None:
    from featlint.version import __version__

    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(__version__)}\b", changelog, re.M), "add the version's section to CHANGELOG.md"
    assert f"v{__version__}" in (REPO / "README.md").read_text(encoding="utf-8")  # the pre-commit `rev:` example
