"""The real command line, in child processes, for every flag and output format."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from featlint.rules import ALL_RULES

from .conftest import REPO, SARIF_SCHEMA, finding_lines

BUGGY = "fixtures/buggy/finetune_resnet.py"
CLEAN = "fixtures/clean/finetune_resnet.py"


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_buggy_fixture_concise_output_and_exit_1(featlint) -> None:
    done = featlint([BUGGY])
    assert done.returncode == 1
    *lines, found, fixable = done.stdout.splitlines()
    assert f"{BUGGY}:20:5: FL101 [*] `require_grad` is not `requires_grad`" in done.stdout
    assert all(line.startswith(f"{BUGGY}:") for line in lines)
    assert {line.split()[1] for line in lines} == {"FL101", "FL102", "FL104", "FL305", "FL401"}
    # The summary follows the findings on stdout, as ruff's does: in a CI log (one pipe for both streams) it
    # can no longer land in the middle of the last finding. stderr is for warnings and errors only.
    assert found == "Found 5 problems (3 errors, 2 warnings) in 1 file."
    assert fixable == "[*] 4 fixable with the --fix option."
    assert done.stderr == ""


def test_clean_fixture_passes(featlint) -> None:
    done = featlint([CLEAN])
    assert (done.returncode, done.stdout, done.stderr) == (0, "All checks passed.\n", "")


@pytest.mark.parametrize("output_format", ["json", "sarif", "github"])
def test_machine_readable_formats_print_no_summary(featlint, output_format: str) -> None:
    """As in ruff, only the human formats end with a summary: JSON and SARIF must stay parseable, and
    every line of the GitHub format is a workflow command."""
    for path in (BUGGY, CLEAN):
        done = featlint(["--output-format", output_format, path])
        assert done.stderr == "" and "Found" not in done.stdout and "All checks passed" not in done.stdout
        if output_format != "github":
            json.loads(done.stdout)
        else:
            assert all(line.startswith("::") for line in done.stdout.splitlines())


def test_check_subcommand_and_python_m_are_the_same(featlint) -> None:
    assert featlint(["check", BUGGY]).stdout == featlint([BUGGY]).stdout


def test_no_path_lints_the_current_directory(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "sub/train.py", "p.require_grad = False\n")
    done = featlint([], cwd=tmp_path)
    assert done.returncode == 1 and "sub/train.py:1:1: FL101" in done.stdout


def test_full_format_shows_source_and_caret(featlint) -> None:
    done = featlint(["--output-format", "full", BUGGY])
    assert "param.require_grad = False" in done.stdout
    assert "^" in done.stdout and "help:" in done.stdout


def test_json_format(featlint) -> None:
    done = featlint(["--output-format", "json", BUGGY])
    items = json.loads(done.stdout)
    first = next(i for i in items if i["code"] == "FL101")
    assert first["location"] == {"row": 20, "column": 5}
    assert first["end_location"] == {"row": 20, "column": 23}
    assert first["filename"] == BUGGY and first["severity"] == "error" and first["name"] == "requires-grad-typo"
    assert first["fix"]["applicability"] == "safe"
    assert first["fix"]["edits"] == [
        {"content": "requires_grad", "location": {"row": 20, "column": 11}, "end_location": {"row": 20, "column": 23}}
    ]
    assert first["url"].endswith("#fl101")
    assert any(i["fix"] is None for i in items)


def test_sarif_format_is_valid(featlint) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    done = featlint(["--output-format", "sarif", BUGGY])
    log = json.loads(done.stdout)
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    run = log["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {r.code for r in ALL_RULES}
    assert run["columnKind"] == "unicodeCodePoints"
    location = run["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == BUGGY
    assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1


def test_github_format(featlint) -> None:
    done = featlint(["--output-format", "github", BUGGY])
    lines = done.stdout.splitlines()
    assert any(line.startswith(f"::error file={BUGGY},line=20,col=5,endLine=20,endColumn=23,title=FL101 "
                                "requires-grad-typo::") for line in lines), lines
    assert any(line.startswith("::warning ") for line in lines)


def test_statistics(featlint) -> None:
    done = featlint(["--statistics", BUGGY])
    assert done.returncode == 1
    assert any(line.split("\t")[1:2] == ["FL101"] for line in done.stdout.splitlines())
    assert done.stdout.splitlines()[-2] == "Found 5 problems (3 errors, 2 warnings) in 1 file."


@pytest.mark.parametrize(
    ("flags", "codes"),
    [
        (["--select", "FL1"], {"FL101", "FL102", "FL104"}),
        (["--select", "FL10"], {"FL101", "FL102", "FL104"}),
        (["--select", "FL101,FL401"], {"FL101", "FL401"}),
        (["--select", "FL101", "--select", "FL305"], {"FL101", "FL305"}),
        (["--ignore", "FL1"], {"FL305", "FL401"}),
        (["--select", "FL1", "--extend-select", "FL4"], {"FL101", "FL102", "FL104", "FL401"}),
        (["--select", "ALL", "--ignore", "FL305,FL401"], {"FL101", "FL102", "FL104", "FL208"}),
    ],
)
def test_selection(featlint, flags: list[str], codes: set[str]) -> None:
    done = featlint([*flags, BUGGY])
    assert {line.split()[1] for line in finding_lines(done.stdout)} == codes


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
def test_unknown_code_is_a_usage_error(featlint, flag: str) -> None:
    done = featlint([flag, "FL999", BUGGY])
    assert done.returncode == 2 and "FL999" in done.stderr


def test_usage_errors_exit_2(featlint) -> None:
    assert featlint(["--output-format", "xml", BUGGY]).returncode == 2
    assert featlint(["--no-such-flag"]).returncode == 2
    assert featlint(["explain", "FL000"]).returncode == 2


def test_exit_zero(featlint) -> None:
    done = featlint(["--exit-zero", BUGGY])
    assert done.returncode == 0 and "FL101" in done.stdout


def test_missing_and_unreadable_files_do_not_stop_the_run(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "bad.py", "def f(:\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02")
    _write(tmp_path, "typo.py", "p.require_grad = False\n")
    done = featlint(["missing.py", "bad.py", "binary.py", "typo.py"], cwd=tmp_path)
    assert done.returncode == 1
    out = done.stdout
    assert "missing.py:1:1: FL001 No such file or directory" in out
    assert "bad.py:1:7: FL001 SyntaxError" in out
    assert "binary.py:1:1: FL001 Binary file" in out
    assert "typo.py:1:1: FL101" in out


def test_config_in_pyproject(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", """
        [tool.featlint]
        ignore = ["FL101"]
        extend-exclude = ["generated"]
        per-file-ignores = { "legacy_*.py" = ["FL305"] }

        [tool.featlint.extreme-learning-rate]
        max-lr = { SGD = 200.0 }
    """)
    _write(tmp_path, "train.py", """
        import torch
        import torchvision
        p.require_grad = False
        m = torchvision.models.resnet18(pretrained=True)
        opt = torch.optim.SGD(m.parameters(), lr=100)
        opt2 = torch.optim.Adam(m.parameters(), lr=100)
    """)
    _write(tmp_path, "legacy_train.py", "import torchvision\nm = torchvision.models.resnet18(pretrained=True)\n")
    _write(tmp_path, "generated/train.py", "p.require_grad = False\n")
    done = featlint(["."], cwd=tmp_path)
    codes = sorted((line.split(":")[0], line.split()[1]) for line in finding_lines(done.stdout))
    assert codes == [("train.py", "FL305"), ("train.py", "FL401")], done.stdout
    # The command line wins over the config file.
    done = featlint(["--select", "FL101", "."], cwd=tmp_path)
    assert [line.split()[1] for line in finding_lines(done.stdout)] == ["FL101"]


def test_explicit_file_bypasses_excludes_unless_force_exclude(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.featlint]\nextend-exclude = ["skip_me.py"]\n')
    _write(tmp_path, "skip_me.py", "p.require_grad = False\n")
    assert featlint(["skip_me.py"], cwd=tmp_path).returncode == 1
    done = featlint(["--force-exclude", "skip_me.py"], cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "All checks passed.\n"


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ('[tool.featlint]\nselct = ["FL1"]\n', "unknown key `selct`"),
        ('[tool.featlint]\nselect = "FL1"\n', "`select` must be a list of strings"),
        ('[tool.featlint]\nselect = ["FL99"]\n', "unknown rule code or prefix 'FL99'"),
        ("[tool.featlint\n", "invalid TOML"),
        ('[tool.featlint.extreme-learning-rate]\nmin-lr = "small"\n', "must be a number"),
        ('[tool.featlint.extreme-learning-rate]\nmax-lr = { Lion = 1.0 }\n', "unknown key `Lion`"),
        ('[tool.featlint.extreme-learning-rate]\nmaximum = 1\n', "unknown option `maximum`"),
        ('[tool.featlint]\nsrc = "lib"\n', "`src` must be a list of strings"),
        ('[tool.featlint]\nsrc = ["missing"]\n', "`src` entry 'missing' is not a directory"),
    ],
)
def test_bad_config_is_a_clear_error(featlint, tmp_path: Path, config: str, words: str) -> None:
    _write(tmp_path, "pyproject.toml", config)
    _write(tmp_path, "train.py", "x = 1\n")
    done = featlint(["train.py"], cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and "pyproject.toml" in done.stderr
    # A configuration error is not a misuse of the command line: no click usage banner.
    assert done.stderr.startswith("error: ") and "Usage:" not in done.stderr and "--help" not in done.stderr


def test_explicit_config_file(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "conf/featlint.toml", '[tool.featlint]\nselect = ["FL305"]\n')
    _write(tmp_path, "train.py", "p.require_grad = False\n")
    done = featlint(["--config", "conf/featlint.toml", "train.py"], cwd=tmp_path)
    assert done.returncode == 0
    assert featlint(["--config", "nope.toml", "train.py"], cwd=tmp_path).returncode == 2


def test_gitignored_files_are_skipped(featlint, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _write(tmp_path, ".gitignore", "ignored/\n")
    _write(tmp_path, "ignored/train.py", "p.require_grad = False\n")
    _write(tmp_path, "kept.py", "p.require_grad = False\n")
    done = featlint(["."], cwd=tmp_path)
    assert [line.split(":")[0] for line in finding_lines(done.stdout)] == ["kept.py"]


def test_rules_command_lists_every_rule(featlint) -> None:
    done = featlint(["rules"])
    assert done.returncode == 0
    for rule in ALL_RULES:
        assert rule.code in done.stdout and rule.name in done.stdout
    listed = json.loads(featlint(["rules", "--output-format", "json"]).stdout)
    assert [r["code"] for r in listed] == [r.code for r in ALL_RULES]


def test_rules_command_aligns_its_columns_by_the_longest_name(featlint) -> None:
    header, *rows = featlint(["rules"]).stdout.splitlines()
    assert max(len(row.split()[1]) for row in rows) == max(len(rule.name) for rule in ALL_RULES)
    for column in ("severity", "default", "fix", "summary"):
        offset = header.index(f"  {column}") + 2
        # Every row's cell starts where its header does, after the two spaces that end the previous cell.
        assert all(row[offset - 2: offset] == "  " and row[offset] != " " for row in rows), column


def test_explain(featlint) -> None:
    done = featlint(["explain", "FL101"])
    assert done.returncode == 0
    assert "# requires-grad-typo (FL101)" in done.stdout and "## Why is this bad?" in done.stdout
    assert featlint(["explain", "requires-grad-typo"]).stdout == done.stdout


def test_version(featlint) -> None:
    from featlint import __version__

    done = featlint(["--version"])
    assert (done.returncode, done.stdout.strip()) == (0, f"featlint {__version__}")


def test_noqa_through_the_cli(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "t.py", "p.require_grad = False  # noqa: FL101\nq.require_grad = False  # noqa: FL999\n")
    done = featlint(["t.py"], cwd=tmp_path)
    assert [line.split(":")[1] for line in finding_lines(done.stdout)] == ["2"]
    assert "unknown rule code FL999" in done.stderr


STDIN_SOURCE = "import torchvision\nm = torchvision.models.resnet50(pretrained=True)\nm.fc.requires_grad = False\n"


def test_stdin_is_linted_as_dash(featlint, tmp_path: Path) -> None:
    done = featlint(["-"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert done.returncode == 1, done.stderr
    assert [line.split()[:2] for line in finding_lines(done.stdout)] == [["-:2:33:", "FL305"], ["-:3:1:", "FL102"]]
    binary = featlint(["-"], cwd=tmp_path, stdin="\x00")
    assert finding_lines(binary.stdout) == ["-:1:1: FL001 Binary file (it contains NUL bytes), not Python source"]


def test_stdin_filename_names_the_findings_and_picks_the_settings(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", """
        [tool.featlint]
        per-file-ignores = { "legacy/*" = ["FL305"] }
        extend-exclude = ["generated/"]
    """)
    done = featlint(["--stdin-filename", "src/train.py"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert [line.split()[:2] for line in finding_lines(done.stdout)] == [
        ["src/train.py:2:33:", "FL305"], ["src/train.py:3:1:", "FL102"]]
    ignored = featlint(["--stdin-filename", "legacy/train.py", "-"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert [line.split()[1] for line in finding_lines(ignored.stdout)] == ["FL102"]
    # From a subdirectory, the path is relative to the working directory and the project's config still applies.
    (tmp_path / "legacy").mkdir()
    nested = featlint(["--stdin-filename", "train.py"], cwd=tmp_path / "legacy", stdin=STDIN_SOURCE)
    assert [line.split()[:2] for line in finding_lines(nested.stdout)] == [["train.py:3:1:", "FL102"]]
    # Excludes apply to a named stdin only with --force-exclude, as to any file named on the command line.
    assert featlint(["--stdin-filename", "generated/x.py"], cwd=tmp_path, stdin=STDIN_SOURCE).returncode == 1
    excluded = featlint(["--force-exclude", "--stdin-filename", "generated/x.py"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert (excluded.returncode, excluded.stdout) == (0, "All checks passed.\n")


def test_stdin_fix_writes_the_fixed_source_to_stdout_and_the_report_to_stderr(featlint, tmp_path: Path) -> None:
    done = featlint(["--fix", "--stdin-filename", "train.py"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert done.returncode == 0, done.stderr
    weights = "weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1"
    assert done.stdout == STDIN_SOURCE.replace("pretrained=True", weights).replace(
        "m.fc.requires_grad = False", "m.fc.requires_grad_(False)")
    assert done.stderr == "Found 2 problems (2 fixed, 0 remaining).\n"
    assert list(tmp_path.iterdir()) == []  # nothing written: the "file" is only a name
    untouched = featlint(["--fix", "-"], cwd=tmp_path, stdin="x = 1\n")
    assert (untouched.returncode, untouched.stdout, untouched.stderr) == (0, "x = 1\n", "All checks passed.\n")
    diff = featlint(["--diff", "-"], cwd=tmp_path, stdin=STDIN_SOURCE)
    assert diff.returncode == 1 and diff.stdout.startswith("--- -\n+++ -\n")
    assert diff.stderr == "Would fix 2 problems.\n"


@pytest.mark.parametrize("args", [["-", "train.py"], ["--stdin-filename", "a.py", "train.py"], ["--runtime", "-"]])
def test_stdin_cannot_be_mixed_with_paths_or_runtime(featlint, tmp_path: Path, args: list[str]) -> None:
    done = featlint(args, cwd=tmp_path, stdin="x = 1\n")
    assert done.returncode == 2 and "standard input" in done.stderr, done.stderr
