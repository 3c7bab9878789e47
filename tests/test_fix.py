"""`featlint check --fix / --diff / --unsafe-fixes`, and the fix engine under them (featlint.fixes)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from featlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location, Severity
from featlint.running.engine import check_text
from featlint.running.results import FileResult
from featlint.fixes import apply_fixes, fix_text, parses, unified_diff
from featlint.outputs.summary import summary_line
from featlint.rules import ALL_RULES
from featlint.rules.base import Rule
from tests.conftest import REPO

if TYPE_CHECKING:
    from featlint.context import FileContext

BUGGY = REPO / "fixtures" / "buggy" / "finetune_resnet.py"
# A fixed selection: these tests are about the fix machinery, and must not change as rules are added.
CODES = ("FL101", "FL102", "FL104", "FL305", "FL401")
SELECT = ["--select", ",".join(CODES)]
RULES = [rule() for rule in ALL_RULES if rule.code in CODES]
# What --fix makes of the buggy fixture's lines 16-24: everything else, comments included, stays as it was.
FIXED_LINES = {
    16: "model = models.resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V1)",
    20: "    param.requires_grad = False",
    21: "model.layer4.requires_grad_(True)",
    24: "model.fc.requires_grad_(True)",
}


def _diagnostic(code: str, row: int, edits: tuple[Edit, ...] | None, applicability=Applicability.SAFE) -> Diagnostic:
    fix = Fix("fix it", edits, applicability) if edits is not None else None
    return Diagnostic(code, "demo", Severity.ERROR, "m", "x.py", Location(row, 1), Location(row, 2), fix)


def _edit(content: str, start: tuple[int, int], end: tuple[int, int]) -> Edit:
    return Edit(content, Location(*start), Location(*end))


def _fix(text: str) -> tuple[str, int, list[str]]:
    outcome = fix_text(check_text(text, "t.py", RULES), RULES)
    return outcome.after, outcome.fixed, outcome.warnings


# --- one pass -------------------------------------------------------------------------------------------------


def test_non_overlapping_fixes_apply_in_one_pass_and_overlapping_wait() -> None:
    text = "aa = 1\nbb = 2\n"
    first = _diagnostic("FL990", 1, (_edit("xx", (1, 1), (1, 3)),))
    second = _diagnostic("FL991", 2, (_edit("yy", (2, 1), (2, 3)),))
    overlapping = _diagnostic("FL992", 1, (_edit("zz", (1, 2), (1, 4)),))
    assert apply_fixes(text, [second, first, overlapping]) == ("xx = 1\nyy = 2\n", 2)


def test_identical_fixes_of_two_findings_apply_once_and_count_twice() -> None:
    edit = (_edit("import os\n", (1, 1), (1, 1)),)
    assert apply_fixes("x = 1\n", [_diagnostic("FL990", 1, edit), _diagnostic("FL991", 1, edit)]) == (
        "import os\nx = 1\n", 2,
    )


def test_unsafe_fixes_only_on_request_and_findings_without_fix_are_skipped() -> None:
    unsafe = _diagnostic("FL990", 1, (_edit("b", (1, 1), (1, 2)),), Applicability.UNSAFE)
    no_fix = _diagnostic("FL991", 1, None)
    assert apply_fixes("a = 1\n", [unsafe, no_fix]) == ("a = 1\n", 0)
    assert apply_fixes("a = 1\n", [unsafe, no_fix], unsafe=True) == ("b = 1\n", 1)


def test_columns_are_code_points_and_crlf_files_keep_crlf() -> None:
    text = 'é = "ü"  # ö\r\nmodel.x = 1\r\n'
    rename = _diagnostic("FL990", 2, (_edit("y", (2, 7), (2, 8)), _edit("# new\n", (3, 1), (3, 1))))
    comment = _diagnostic("FL991", 1, (_edit("ä", (1, 12), (1, 13)),))
    assert apply_fixes(text, [rename, comment]) == ('é = "ü"  # ä\r\nmodel.y = 1\r\n# new\r\n', 2)


def test_a_line_appended_after_an_unterminated_last_line_gets_its_own_line() -> None:
    insert = _diagnostic("FL990", 1, (_edit("import os\n", (2, 1), (2, 1)),))
    assert apply_fixes("x = 1", [insert]) == ("x = 1\nimport os\n", 1)


def test_parses_needs_both_parsers() -> None:
    assert parses("x = 1\n")
    assert not parses("x = (\n")
    assert not parses("x = 1\nx += = 2\n")


# --- until stable ---------------------------------------------------------------------------------------------


def test_fixing_the_buggy_fixture_keeps_everything_else_and_is_idempotent() -> None:
    before = BUGGY.read_text()
    outcome = fix_text(check_text(before, "b.py", RULES), RULES)
    assert outcome.fixed == 4 and outcome.warnings == []
    assert [d.code for d in outcome.result.diagnostics] == ["FL401"]
    expected = before.splitlines()
    for row, line in FIXED_LINES.items():
        expected[row - 1] = line
    assert outcome.after.splitlines() == expected
    again = fix_text(outcome.result, RULES)
    assert not again.changed and again.fixed == 0


def test_comments_on_fixed_lines_and_inside_fixed_statements_are_kept() -> None:
    text = (
        "import torchvision\n"
        "model = torchvision.models.resnet18(  # the backbone\n"
        "    pretrained=True,  # old API\n"
        ")\n"
        "for p in model.parameters():\n"
        "    p.require_grad = False  # freeze\n"
    )
    after, fixed, warnings = _fix(text)
    assert (fixed, warnings) == (2, [])
    assert after == text.replace("pretrained=True", "weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1").replace(
        "require_grad", "requires_grad"
    )


def test_fixes_that_must_wait_for_a_second_pass_are_applied_and_counted() -> None:
    # Both FL305 fixes insert an import after line 1; the second overlaps the first and waits one pass.
    # Then FL101's `requires_grad` makes an FL102 finding whose own fix is the third pass.
    text = (
        "from torchvision.models import resnet18, vgg16\n"
        "a = resnet18(pretrained=True)\n"
        "b = vgg16(pretrained=True)\n"
        "a.fc.require_grad = False\n"
    )
    after, fixed, warnings = _fix(text)
    assert (fixed, warnings) == (4, [])
    assert check_text(after, "t.py", RULES).diagnostics == []
    assert "a.fc.requires_grad_(False)" in after
    assert after.count("from torchvision.models import") == 3


def test_a_finding_suppressed_by_noqa_is_not_fixed() -> None:
    text = "for p in model.parameters():\n    p.require_grad = False  # noqa: FL101\n"
    assert _fix(text) == (text, 0, [])


def test_a_fix_whose_result_does_not_parse_is_not_applied_and_does_not_block_others() -> None:
    text = "x = 1\ny = 2\n"
    broken = _diagnostic("FL990", 1, (_edit("x = (", (1, 1), (1, 6)),))
    outcome = fix_text(FileResult("t.py", [broken], source=text), RULES)
    assert (outcome.after, outcome.fixed, outcome.changed) == (text, 0, False)
    assert outcome.warnings == [
        "t.py: the fixes of FL990 would leave code that does not parse and were not applied "
        "(please report this as a featlint bug)"
    ]
    good = _diagnostic("FL991", 2, (_edit("z", (2, 1), (2, 2)),))
    outcome = fix_text(FileResult("t.py", [broken, good], source=text), RULES)
    assert (outcome.after, outcome.fixed, len(outcome.warnings)) == ("x = 1\nz = 2\n", 1, 1)


def test_unified_diff_is_a_patch() -> None:
    outcome = fix_text(check_text("p.require_grad = False", "t.py", RULES), RULES)
    assert unified_diff(outcome) == (
        "--- t.py\n+++ t.py\n@@ -1 +1 @@\n-p.require_grad = False\n\\ No newline at end of file\n"
        "+p.requires_grad = False\n\\ No newline at end of file\n"
    )


def test_summary_line_after_fixing() -> None:
    remaining = _diagnostic("FL990", 1, None)
    assert summary_line([], 0, 0, fixed=3) == "Found 3 problems (3 fixed, 0 remaining)."
    assert summary_line([remaining], 1, 0, fixed=1) == "Found 2 problems (1 fixed, 1 remaining: 1 error)."
    assert summary_line([remaining, remaining], 1, 0, fixed=1, uncovered=2) == (
        "Found 3 problems (1 fixed, 2 remaining: 2 errors).\n2 new findings after fixing: the fixes uncovered them."
    )
    assert summary_line([remaining], 1, 0, hidden_fixes=1).endswith("1 more fixable with --fix --unsafe-fixes: "
                                                                      "these fixes may change what the code does.)")


# --- the command line, on copies of the fixtures ------------------------------------------------------------


@pytest.fixture
def buggy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "train.py"
    shutil.copy(BUGGY, target)
    return target


def test_fix_writes_the_safe_fixes_and_reports_what_is_left(featlint, buggy_copy: Path) -> None:
    before = buggy_copy.read_text()
    first = featlint(["check", *SELECT, "--fix", "train.py"], cwd=buggy_copy.parent)
    assert first.returncode == 1, first.stderr
    finding, summary = first.stdout.splitlines()
    assert finding.split()[1] == "FL401"
    assert summary == "Found 5 problems (4 fixed, 1 remaining: 1 warning)."
    after = buggy_copy.read_text()
    assert after != before and "# Freeze the backbone.\n" in after
    assert all(after.splitlines()[row - 1] == line for row, line in FIXED_LINES.items())
    second = featlint(["check", *SELECT, "--fix", "train.py"], cwd=buggy_copy.parent)
    assert buggy_copy.read_text() == after
    assert second.returncode == 1 and second.stdout.strip().endswith("Found 1 problem (1 warning) in 1 file.")


def test_fix_on_the_readme_example_explains_the_finding_it_uncovers(featlint, buggy_copy: Path) -> None:
    """5 findings, 4 fixed, yet 6 in all: the corrected freeze uncovers FL202, and the summary says so. The
    README shows this very output."""
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- fix-example:start -->\n```text\n\$ (?P<command>[^\n]*)\n(?P<output>.*?)```", readme, re.S)
    assert block is not None and block.group("command").endswith("featlint check --fix train.py")
    done = featlint(["check", "--fix", "train.py"], cwd=buggy_copy.parent)
    assert done.returncode == 1 and done.stdout == block.group("output")
    assert done.stdout.endswith("\n1 new finding after fixing: the fixes uncovered it.\n")


def test_fix_exits_0_when_everything_was_fixed(featlint, tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("for p in m.parameters():\n    p.require_grad = False\n")
    done = featlint(["check", *SELECT, "--fix", "t.py"], cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "Found 1 problem (1 fixed, 0 remaining).\n")
    assert (tmp_path / "t.py").read_text() == "for p in m.parameters():\n    p.requires_grad = False\n"


def test_diff_prints_a_patch_writes_nothing_and_the_patch_applies(featlint, buggy_copy: Path) -> None:
    before = buggy_copy.read_text()
    shown = featlint(["check", *SELECT, "--diff", "train.py"], cwd=buggy_copy.parent)
    assert shown.returncode == 1, shown.stderr
    assert buggy_copy.read_text() == before
    assert shown.stdout.startswith("--- train.py\n+++ train.py\n")
    assert "\n-    param.require_grad = False\n" in shown.stdout
    assert "\n+    param.requires_grad = False\n" in shown.stdout
    assert shown.stdout.endswith("\nWould fix 4 problems.\n")  # after the patch, as ruff prints it
    if shutil.which("patch"):
        subprocess.run(["patch", "-p0", "-s"], input=shown.stdout, text=True, cwd=buggy_copy.parent, check=True)
        again = featlint(["check", *SELECT, "--diff", "train.py"], cwd=buggy_copy.parent)
        assert again.stdout == "No fixes available.\n"
    featlint(["check", *SELECT, "--fix", "train.py"], cwd=buggy_copy.parent)
    clean = featlint(["check", *SELECT, "--diff", "train.py"], cwd=buggy_copy.parent)
    assert (clean.returncode, clean.stdout) == (0, "No fixes available.\n")


def test_fix_keeps_the_file_encoding_bom_and_line_endings(featlint, tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\r\n# caf\xe9\r\np.require_grad = False  # \xe9t\xe9\r\n")
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfp.require_grad = False\n")
    done = featlint(["check", *SELECT, "--fix", "latin.py", "bom.py"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert latin.read_bytes() == b"# -*- coding: latin-1 -*-\r\n# caf\xe9\r\np.requires_grad = False  # \xe9t\xe9\r\n"
    assert bom.read_bytes() == b"\xef\xbb\xbfp.requires_grad = False\n"


def test_fix_respects_the_configured_selection(featlint, buggy_copy: Path) -> None:
    selection = ", ".join(f'"{code}"' for code in CODES)
    (buggy_copy.parent / "pyproject.toml").write_text(f'[tool.featlint]\nselect = [{selection}]\nignore = ["FL305"]\n')
    done = featlint(["check", "--fix", "train.py"], cwd=buggy_copy.parent)
    assert "pretrained=True" in buggy_copy.read_text()
    assert done.stdout.strip().endswith("Found 4 problems (3 fixed, 1 remaining: 1 warning).")


class _Flip(Rule):
    """A rule whose fix turns `a` into `b` and `b` into `a`: two fixes that undo each other."""

    code = "FL990"
    name = "flip"
    severity = Severity.ERROR
    summary = "flips a name"
    fixable = True

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        target = ctx.module.body[0].body[0].targets[0].target
        yield ctx.report(self, target, "flip", edits=[ctx.replace(target, "b" if target.value == "a" else "a")])


def test_fixes_that_undo_each_other_stop_with_a_warning() -> None:
    rules = [_Flip()]
    outcome = fix_text(check_text("a = 1\n", "t.py", rules), rules)
    assert (outcome.after, outcome.fixed) == ("b = 1\n", 1)
    assert outcome.warnings == ["t.py: two fixes undo each other; stopped after 1 fixed"]
