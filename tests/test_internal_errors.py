"""The shared analysis never fails a file, and featlint is never silent about itself.

Failures are injected (monkeypatch) where no real input fails any more: a statement the interpreter cannot
follow becomes unknown; a shared part that still fails is one internal error per file, naming the file, the
line and the part, while the rules that do not read it still report; the outputs and the exit code say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from featlint.analysis import interpreter
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic
from featlint.running import engine

from .conftest import REPO, SHARED

# FL305 reads no story; FL201 reads it. The optimizer on line 5 misses the head replaced on line 6.
SCRIPT = textwrap.dedent("""\
    import torch
    import torchvision
    model = torchvision.models.resnet18(pretrained=True)
    other = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.fc = torch.nn.Linear(512, 2)
    other.layer4 = torch.nn.Identity()
""")


SCHEMA = "sarif-schema-2.1.0.json"


def _check(source: str = SCRIPT) -> engine.FileResult:
    return engine.check_text(source, "train.py", engine._rules(["ALL"]))


def _fail_on(monkeypatch: pytest.MonkeyPatch, method: str, error: Exception) -> None:
    def broken(self: object, *args: object, **kwargs: object) -> object:
        raise error

    monkeypatch.setattr(interpreter.Interpreter, method, broken)


def test_the_files_in_this_test_report_normally() -> None:
    result = _check()
    assert [(d.code, d.start.row) for d in result.diagnostics] == [("FL305", 3), ("FL201", 6)]
    assert result.errors == [] and result.unhandled == []


def test_a_statement_the_interpreter_cannot_follow_becomes_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on(monkeypatch, "_optimizer", TypeError("unexpected shape"))
    result = _check()
    # The optimizer statement is unknown: the model it mentions escaped, so FL201 stays silent; no error.
    assert [(d.code, d.start.row) for d in result.diagnostics] == [("FL305", 3)]
    assert result.errors == []
    assert result.unhandled == ["train.py:5: TypeError: unexpected shape"]


def test_an_unknown_statement_forgets_the_names_it_binds(monkeypatch: pytest.MonkeyPatch) -> None:
    source = SCRIPT.replace("optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n",
                            "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
                            "for model in torch.optim.Adam(other.parameters()):\n    pass\n")
    real = interpreter.Interpreter._optimizer

    def broken_adam(self: interpreter.Interpreter, call: object, klass: str, *args: object) -> object:
        if klass.endswith("Adam"):
            raise KeyError("Adam")
        return real(self, call, klass, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(interpreter.Interpreter, "_optimizer", broken_adam)
    result = _check(source)
    # `model` is rebound by the loop the interpreter gave up on (and its old value escaped there): the head
    # replaced after it is no longer known to be the first model's, so FL201 is silent.
    assert [(d.code, d.start.row) for d in result.diagnostics] == [("FL305", 3)]
    assert result.unhandled == ["train.py:6: KeyError: 'Adam'"]


def test_a_failed_story_is_one_error_per_file_naming_line_and_part(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise AssertionError

    monkeypatch.setattr(interpreter, "build_story", broken)
    result = _check()
    [error] = result.errors
    assert (error.path, error.code, error.part, error.message) == ("train.py", None, "the model story", "AssertionError")
    assert {"FL201", "FL202", "FL203", "FL506", "FL801"} <= set(error.rules)
    assert "FL305" not in error.rules
    assert str(error).startswith("train.py: internal error in the model story: AssertionError (not checked in this file: FL")
    assert [d.code for d in result.diagnostics] == ["FL305"]  # the rules that do not read the story still report


def test_the_failure_names_the_line_being_analysed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: interpreter.Interpreter, node: object, frame: object) -> None:
        raise AssertionError("the story lost its place")

    # Below the statement guard: a failure in the loop over the module's functions is not a statement's.
    monkeypatch.setattr(interpreter.Interpreter, "_standalone", broken)
    result = _check(SCRIPT + "def train(net):\n    net.fc = torch.nn.Linear(512, 3)\n")
    [error] = result.errors
    assert error.line == 8 and error.part == "the model story"
    assert str(error).startswith("train.py:8: internal error in the model story: AssertionError: the story lost")


def test_a_crashing_rule_names_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from featlint.rules.fl305_deprecated_pretrained import DeprecatedPretrained

    def broken(self: object, ctx: FileContext) -> Iterator[Diagnostic]:
        statement = ctx.module.body[2]  # line 3, the node the rule was looking at when it failed
        if statement is not None:  # not `assert`: pytest would rewrite its message
            raise AssertionError("a rule's own assertion")
        yield from ()

    monkeypatch.setattr(DeprecatedPretrained, "check", broken)
    result = _check()
    [error] = result.errors
    assert (error.code, error.line) == ("FL305", 3)
    assert str(error) == "train.py:3: internal error in rule FL305: AssertionError: a rule's own assertion"
    assert [d.code for d in result.diagnostics] == ["FL201"]


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The real command line with the story broken, in a child process so the patch cannot leak."""
    (tmp_path / "train.py").write_text(SCRIPT, encoding="utf-8")
    script = (
        "import sys\n"
        "from featlint.analysis import interpreter\n"
        "def broken(*args):\n    raise AssertionError('injected')\n"
        "interpreter.build_story = broken\n"
        "from featlint.cli import main\n"
        f"main({['--no-cache', '--jobs', '1', *args, 'train.py']!r})\n"
    )
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": str(REPO), "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=120)


def test_the_command_line_never_says_all_checks_passed_after_an_error(tmp_path: Path) -> None:
    done = _cli(["--select", "FL2"], tmp_path)
    assert done.returncode == 2
    assert "All checks passed" not in done.stdout + done.stderr
    assert (done.stdout + done.stderr).count("internal error") == 2  # the error line, and the summary's count
    assert "error: train.py: internal error in the model story: AssertionError: injected" in done.stderr
    assert "No problems found, but 1 internal error: some checks did not run" in done.stdout + done.stderr


def test_the_summary_counts_internal_errors_next_to_the_findings(tmp_path: Path) -> None:
    done = _cli([], tmp_path)
    assert done.returncode == 2
    assert "FL305" in done.stdout and "FL201" not in done.stdout
    assert "Found 1 problem (1 warning) in 1 file; 1 internal error: some checks did not run" in done.stdout + done.stderr


def test_sarif_reports_the_failed_execution(tmp_path: Path) -> None:
    done = _cli(["--output-format", "sarif"], tmp_path)
    assert done.returncode == 2
    log = json.loads(done.stdout)
    # The shared folder sits next to the checkout, or next to the folder of worktrees.
    schema_path = next((p for p in (SHARED, SHARED.parent.parent / "shared") if (p / SCHEMA).is_file()), SHARED) / SCHEMA
    if schema_path.is_file():
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    [notification] = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert "internal error in the model story: AssertionError: injected" in notification["message"]["text"]
    location = notification["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "train.py"
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["FL305"]


def test_github_annotates_the_error_and_json_stays_a_list(tmp_path: Path) -> None:
    github = _cli(["--output-format", "github"], tmp_path)
    assert github.returncode == 2
    assert "::error file=train.py,title=featlint internal error in the model story::train.py%3A" not in github.stdout
    assert "::error file=train.py,title=featlint internal error in the model story::train.py: internal error" \
        in github.stdout
    as_json = _cli(["--output-format", "json"], tmp_path)
    assert as_json.returncode == 2
    assert [d["code"] for d in json.loads(as_json.stdout)] == ["FL305"]
    assert "error: train.py: internal error in the model story" in as_json.stderr


def test_a_clean_sarif_run_says_it_succeeded(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "featlint", "--no-cache", "--output-format", "sarif", "ok.py"],
                          cwd=tmp_path, env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    [invocation] = json.loads(done.stdout)["runs"][0]["invocations"]
    assert invocation == {"executionSuccessful": True, "toolExecutionNotifications": []}


@pytest.mark.parametrize("path", sorted((REPO / "fixtures").rglob("*.py")), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_fixture_meets_an_internal_error_or_a_statement_the_story_gives_up_on(path: Path) -> None:
    result = engine.check_text(path.read_text(encoding="utf-8"), str(path), engine._rules(["ALL"]))
    assert result.errors == [] and result.unhandled == []
