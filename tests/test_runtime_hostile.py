"""`featlint run` on scripts that misbehave: each gives a clear report within the timeout, nothing the script
started is left running, and the user's files are untouched. (The network guard and a hanging training loop
are in tests/test_runtime_run.py.)"""

from __future__ import annotations

import hashlib
import os
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import run_featlint

pytest.importorskip("torch")
pytest.importorskip("torchvision")

SCRIPTS = {
    "raises": ("import torch\nraise ValueError('the script has its own bug')\n",
               "the script failed after 0 optimizer steps: ValueError: the script has its own bug"),
    "exits": ("import sys\nsys.exit(3)\n", "the script failed after 0 optimizer steps: SystemExit: 3"),
    "reads_stdin": ("import sys\nprint('read', len(sys.stdin.read()))\nname = input('name? ')\n",
                    "the script failed after 0 optimizer steps: EOFError: EOF when reading a line"),
    "prints_100_mb": (
        "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(100 * 1024):\n    sys.stdout.write(line)\n"
        "raise RuntimeError('after 100 MB of output')\n",
        "the script failed after 0 optimizer steps: RuntimeError: after 100 MB of output",
    ),
}


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_misbehaving_script_gets_a_clear_report_and_the_users_files_are_untouched(tmp_path: Path, name: str) -> None:
    source, headline = SCRIPTS[name]
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    (tmp_path / "data.txt").write_text("the user's data\n", encoding="utf-8")
    before = _snapshot(tmp_path)
    done = run_featlint(["run", "--timeout", "100", f"{name}.py"], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith(f"{name}.py: {headline}"), done.stdout[:500]
    assert f"error: {name}.py: {headline}" in done.stderr
    assert "internal error" not in done.stderr
    assert len(done.stdout) + len(done.stderr) < 200_000  # only the tail of a flood of output is shown
    assert _snapshot(tmp_path) == before


def _running(pid: int) -> bool:
    """Whether `pid` is a live process: a zombie (killed, not yet reaped by init) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(os, "fork"), reason="needs Linux /proc")
@pytest.mark.parametrize("ending", [pytest.param("loops forever", marks=pytest.mark.slow), "returns"])
def test_processes_the_script_started_are_gone_afterwards(tmp_path: Path, ending: str) -> None:
    script = textwrap.dedent(f"""
        import os, subprocess, sys, time
        started = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        forked = os.fork()
        if forked == 0:
            time.sleep(600)
            os._exit(0)
        with open(sys.argv[1], "w") as out:
            out.write(f"{{started.pid}} {{forked}}")
        while {ending == "loops forever"}:
            pass
    """)
    project = tmp_path / "project"
    project.mkdir()
    (project / "spawns.py").write_text(script, encoding="utf-8")
    pids = tmp_path / "pids.txt"  # outside the project: what the script writes there is kept out of it
    done = run_featlint(["run", "--timeout", "30", "spawns.py", "--", str(pids)], cwd=project)
    assert done.returncode == 2 if ending == "loops forever" else done.returncode in (0, 2), done.stderr
    if ending == "loops forever":
        assert "spawns.py: timed out after 30 s" in done.stdout
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously: give the kernel a moment
    while any(_running(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in started if _running(pid)] == []
