from __future__ import annotations

import re
import shlex
from pathlib import Path

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


def test_ci_runs_the_readme_test_command_first_then_the_other_pythons() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    test_command = next(line for line in re.findall(r"```bash\n(.*?)\n```", readme, re.S) if "pytest" in line)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert steps == [test_command, ".ci/other-pythons"]
    listed = re.search(r"STATIC_TESTS=\((.*?)\)", (REPO / ".ci" / "other-pythons").read_text(encoding="utf-8"), re.S)
    assert listed is not None
    assert all((REPO / path).is_file() for path in listed.group(1).split())


def test_other_pythons_skip_with_a_note_where_the_interpreter_is_missing(tmp_path: Path) -> None:
    import shutil
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    done = subprocess.run(["/bin/bash", str(REPO / ".ci" / "other-pythons")], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"note: Python {version} is not installed here; its tests were skipped" for version in ("3.10", "3.13")
    ]
