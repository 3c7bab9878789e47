"""pre-commit itself, against a temporary git repository with a buggy script, using this repo's hook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .notebook_form import notebook


def _pre_commit() -> list[str]:
    found = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("pre-commit is not installed (it is in the dev extra)")
    return [found]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def hook_repo(tmp_path: Path) -> Path:
    """A committed snapshot of this working tree: try-repo needs a git repository to install from."""
    snapshot = tmp_path / "featlint"
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".pytest_cache", "build", "dist")
    shutil.copytree(REPO, snapshot, ignore=ignore)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    _git(snapshot, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "snapshot")
    return snapshot


def test_pre_commit_hook_fails_on_a_buggy_script(tmp_path: Path, hook_repo: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    (project / "train.py").write_text("for p in model.parameters():\n    p.require_grad = False\n")
    (project / "ok.py").write_text("x = 1\n")
    (project / "notes.txt").write_text("p.require_grad = False\n")
    (project / "nb.ipynb").write_text(notebook("# In[1]:\nfor p in model.parameters():\n    p.require_grad = False\n"))
    _git(project, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [*_pre_commit(), "try-repo", str(hook_repo), "featlint", "--all-files"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "train.py:2:5: FL101" in output
    assert "nb.ipynb:cell 1:2:5: FL101" in output  # `types_or: [python, jupyter]` hands notebooks to the hook
    assert "notes.txt" not in output.split("FL101")[0]

    (project / "train.py").write_text("for p in model.parameters():\n    p.requires_grad = False\n")
    (project / "nb.ipynb").write_text(notebook("# In[1]:\nfor p in model.parameters():\n    p.requires_grad = False\n"))
    _git(project, "add", "-A")
    done = subprocess.run(
        [*_pre_commit(), "try-repo", str(hook_repo), "featlint", "--all-files"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _readme_local_hook() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- pre-commit-local:start -->\n```yaml\n(.*?)```", readme, re.S)
    assert block is not None
    return block.group(1)


def test_readme_local_hook_runs_the_manifest_command() -> None:
    """The README's `repo: local` hook is the shipped hook, spelled out: same entry, files and serial run."""
    yaml = pytest.importorskip("yaml")
    local = yaml.safe_load(_readme_local_hook())["repos"][0]
    shipped = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    assert local["repo"] == "local"
    hook = local["hooks"][0]
    assert {key: hook[key] for key in ("id", "entry", "language", "types_or", "require_serial")} == {
        key: shipped[key] for key in ("id", "entry", "language", "types_or", "require_serial")
    }
    assert hook["additional_dependencies"] == ["featlint"]


def test_readme_local_hook_works_from_a_clone(tmp_path: Path, hook_repo: Path) -> None:
    """The README's local hook, with the clone's path as the dependency (what it says to do with a clone)."""
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "init", "-q")
    config = _readme_local_hook().replace("[featlint]", f"[{hook_repo}]")
    (project / ".pre-commit-config.yaml").write_text(config)
    (project / "train.py").write_text("for p in model.parameters():\n    p.require_grad = False\n")
    _git(project, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    done = subprocess.run([*_pre_commit(), "run", "--all-files"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1 and "train.py:2:5: FL101" in done.stdout + done.stderr, done.stdout + done.stderr
