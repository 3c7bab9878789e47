"""`featlint run` in a user's project: their suppressions and configuration, their interpreter, their files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import run_featlint

pytest.importorskip("torch")

# Three findings on one script: FL202 and FL201 at the optimizer, FL703 (opt-in) at `model.train()`.
THREE_FINDINGS = textwrap.dedent("""\
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[1].requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1){noqa}
    model[2] = nn.Linear(4, 2)
    model.train()
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        optimizer.step()
""")


def _codes(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [d["code"] for d in json.loads(done.stdout)["findings"]]


def test_runtime_findings_follow_noqa_the_configuration_and_the_command_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(THREE_FINDINGS.format(noqa="  # noqa: FL201"), encoding="utf-8")
    (project / "pyproject.toml").write_text('[tool.featlint]\nignore = ["FL202"]\n', encoding="utf-8")
    done = run_featlint(["run", "--extend-select", "FL703", "--output-format", "json", "train.py"], cwd=project)
    assert _codes(done) == ["FL703"], done.stdout + done.stderr
    [fl703] = json.loads(done.stdout)["findings"]
    assert (fl703["location"]["row"], fl703["location"]["column"]) == (8, 1)  # the model.train() call
    # Without the noqa, the configuration or the opt-in, `--select` alone decides.
    (project / "train.py").write_text(THREE_FINDINGS.format(noqa=""), encoding="utf-8")
    (project / "pyproject.toml").unlink()
    done = run_featlint(["run", "--select", "FL2", "--ignore", "FL202", "--output-format", "json", "train.py"],
                        cwd=project)
    assert _codes(done) == ["FL201"], done.stdout + done.stderr


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_nothing_the_script_writes_lands_in_the_project_and_the_report_lists_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "checkpoints").mkdir(parents=True)
    (project / "checkpoints" / "best.pt").write_bytes(b"the user's real checkpoint")
    (project / "log.txt").write_text("yesterday's log\n", encoding="utf-8")
    (project / "train.py").write_text(textwrap.dedent("""\
        import os, pathlib, shutil
        import torch
        from torch import nn

        model = nn.Linear(4, 2)
        torch.save(model.state_dict(), "checkpoints/best.pt")
        assert set(torch.load("checkpoints/best.pt")) == {"weight", "bias"}  # it reads back what it wrote
        with open("log.txt", "a") as log:
            log.write("epoch 1\\n")
        assert pathlib.Path("log.txt").read_text() == "yesterday's log\\nepoch 1\\n"
        os.makedirs("runs/exp1", exist_ok=True)
        pathlib.Path("runs/exp1/metrics.json").write_text("{}")
        assert os.path.exists("runs/exp1/metrics.json")
        os.replace("runs/exp1/metrics.json", "metrics.json")
        shutil.rmtree("checkpoints")
    """), encoding="utf-8")
    before = _snapshot(project)
    done = run_featlint(["run", "--output-format", "json", "train.py"], cwd=project)
    data = json.loads(done.stdout)
    assert data["status"] == "finished", done.stdout + done.stderr
    assert _snapshot(project) == before and not (project / "runs").exists()
    assert data["written"] == ["checkpoints/best.pt", "log.txt", "runs/exp1/metrics.json", "metrics.json",
                               "checkpoints (removed)"]
    assert any(note.startswith("the script wrote in the project (checkpoints/best.pt, log.txt") for note in data["notes"])


def _fake_python(tmp_path: Path, answer: str) -> Path:
    """An "interpreter" that answers featlint's probe as an old or torch-less Python would."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho {answer}\n", encoding="utf-8")
    fake.chmod(0o755)
    return fake


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for the interpreter")
def test_an_interpreter_that_cannot_run_the_script_is_a_clear_error(tmp_path: Path) -> None:
    old = _fake_python(tmp_path, "3 8 1")
    (tmp_path / "train.py").write_text("import torch\n", encoding="utf-8")
    done = run_featlint(["run", "--python", str(old), "train.py"], cwd=tmp_path)
    assert done.returncode == 2
    assert f"{old} is Python 3.8; the runtime checker needs Python 3.10 or newer" in done.stderr
    done = run_featlint(["run", "--python", str(tmp_path / "nowhere" / "python"), "train.py"], cwd=tmp_path)
    assert done.returncode == 2 and "no such interpreter" in done.stderr


def test_the_active_virtual_environment_runs_the_script_and_one_without_torch_is_named(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (tmp_path / "train.py").write_text("import torch\n", encoding="utf-8")
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    done = subprocess.run([sys.executable, "-m", "featlint", "run", "train.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"{venv / 'bin' / 'python'} (Python {sys.version_info[0]}.{sys.version_info[1]}) cannot import torch" \
        in done.stderr, done.stderr


def test_the_child_runs_from_featlints_small_runtime_package_alone(tmp_path: Path) -> None:
    """What `--python` puts on the user's interpreter's path is enough: the child imports nothing else of
    featlint (no rule registry, no libcst, no click)."""
    from featlint.runtime.runner import child_package

    lib = child_package(str(tmp_path / "lib"))
    probe = ("import sys, featlint.runtime.child, featlint.runtime.observe, featlint.runtime.meta, "
             "featlint.runtime.fakedata, featlint.runtime.sandbox; "
             "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('libcst', 'click') "
             "or m.startswith(('featlint.rules', 'featlint.analysis', 'featlint.config'))); print(bad)")
    done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": lib},
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert sorted(p.relative_to(lib).as_posix() for p in Path(lib).rglob("*.py")) == sorted(
        f"featlint/{name}" for name in __import__("featlint.runtime.runner", fromlist=["CHILD_FILES"]).CHILD_FILES)
