"""The real command line, in child processes, for every flag and output format."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from featlint.rules import ALL_RULES

from .conftest import REPO

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
    lines = done.stdout.splitlines()
    assert f"{BUGGY}:20:5: FL101 [*] `require_grad` is not `requires_grad`" in done.stdout
    assert all(line.startswith(f"{BUGGY}:") for line in lines)
    assert {line.split()[1] for line in lines} == {"FL101", "FL102", "FL104", "FL305", "FL401"}
    assert "Found 5 problems (3 errors, 2 warnings) in 1 file." in done.stderr


def test_clean_fixture_passes(featlint) -> None:
    done = featlint([CLEAN])
    assert (done.returncode, done.stdout) == (0, "")
    assert "All checks passed." in done.stderr


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
    schema_path = REPO.parent / "shared" / "sarif-schema-2.1.0.json"
    if not schema_path.is_file():
        pytest.skip("the SARIF schema is not beside the repository")
    done = featlint(["--output-format", "sarif", BUGGY])
    log = json.loads(done.stdout)
    jsonschema.validators.validator_for(json.loads(schema_path.read_text()))(
        json.loads(schema_path.read_text())
    ).validate(log)
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
    assert {line.split()[1] for line in done.stdout.splitlines()} == codes


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
    codes = sorted((line.split(":")[0], line.split()[1]) for line in done.stdout.splitlines())
    assert codes == [("train.py", "FL305"), ("train.py", "FL401")], done.stdout
    # The command line wins over the config file.
    done = featlint(["--select", "FL101", "."], cwd=tmp_path)
    assert [line.split()[1] for line in done.stdout.splitlines()] == ["FL101"]


def test_explicit_file_bypasses_excludes_unless_force_exclude(featlint, tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", '[tool.featlint]\nextend-exclude = ["skip_me.py"]\n')
    _write(tmp_path, "skip_me.py", "p.require_grad = False\n")
    assert featlint(["skip_me.py"], cwd=tmp_path).returncode == 1
    done = featlint(["--force-exclude", "skip_me.py"], cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""


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
    ],
)
def test_bad_config_is_a_clear_error(featlint, tmp_path: Path, config: str, words: str) -> None:
    _write(tmp_path, "pyproject.toml", config)
    _write(tmp_path, "train.py", "x = 1\n")
    done = featlint(["train.py"], cwd=tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and "pyproject.toml" in done.stderr


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
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["kept.py"]


def test_rules_command_lists_every_rule(featlint) -> None:
    done = featlint(["rules"])
    assert done.returncode == 0
    for rule in ALL_RULES:
        assert rule.code in done.stdout and rule.name in done.stdout
    listed = json.loads(featlint(["rules", "--output-format", "json"]).stdout)
    assert [r["code"] for r in listed] == [r.code for r in ALL_RULES]


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
    assert [line.split(":")[1] for line in done.stdout.splitlines()] == ["2"]
    assert "unknown rule code FL999" in done.stderr
