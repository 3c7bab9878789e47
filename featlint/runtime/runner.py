"""The parent side of `featlint run`: start the child, enforce the timeout, read its report back.

Torch-free: the script runs in a child process (featlint.runtime.child, from a copy), so a crash, a hang or a
`sys.exit` in the user's code cannot take featlint down, and what the script prints is captured and shown
when it fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from featlint.runtime.report import Report
from featlint.runtime.sandbox import project_roots

DEFAULT_STEPS = 10
DEFAULT_TIMEOUT = 300.0  # seconds; building and stepping a large model on a CPU takes minutes
GRACE = 15.0  # seconds between asking the child to stop (it reports what it saw) and killing it
DEVICES = ("cpu", "cuda", "meta")
OLDEST_PYTHON = (3, 10)
# The modules the child imports, relative to the featlint package: all that is copied next to the user's
# interpreter. tests/test_runtime_run.py runs the child from such a copy, so a missing one fails there.
CHILD_FILES = (
    "__init__.py", "version.py", "diagnostics.py", "urls.py", "runtime/__init__.py", "runtime/child.py",
    "runtime/codes.py", "runtime/collect.py", "runtime/fakedata.py", "runtime/findings.py", "runtime/hooks.py",
    "runtime/identity.py", "runtime/instrument.py", "runtime/meta.py", "runtime/observe.py", "runtime/offline.py",
    "runtime/report.py", "runtime/sandbox.py",
)
# `python -m` would put the working directory first on the path, where a featlint checkout may be: the copy
# must win, so it goes first (and stays on PYTHONPATH for DataLoader workers that are spawned, not forked).
_START_CHILD = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                "from featlint.runtime.child import main; main(sys.argv[1:])")
_PROBE = ("import sys, importlib.util as u; "
          "print(sys.version_info[0], sys.version_info[1], int(u.find_spec('torch') is not None))")


class InterpreterError(Exception):
    """The interpreter chosen to run the script cannot: missing, too old, or without torch."""


def interpreter(python: str | None) -> str:
    """`--python`, else the active virtual environment's interpreter (`$VIRTUAL_ENV`), else featlint's own:
    the script needs the user's torch and packages, which a featlint installed with pipx cannot import."""
    if python:
        return python
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        candidate = os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" else os.path.join(venv, "bin", "python")
        if os.path.isfile(candidate):
            return candidate
    return sys.executable


def check_interpreter(python: str) -> None:
    """Raise InterpreterError with what to do when `python` cannot run the child."""
    found = shutil.which(python) if os.sep not in python else (python if os.path.isfile(python) else None)
    if found is None:
        raise InterpreterError(f"--python {python}: no such interpreter")
    if os.path.abspath(found) == os.path.abspath(sys.executable):  # featlint's own (not resolved: a venv shares the binary)
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise InterpreterError('the runtime checker needs torch: pip install "featlint[runtime]", or name the '
                                   "interpreter of your training environment with --python")
        return
    try:
        done = subprocess.run([found, "-c", _PROBE], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        major, minor, torch = (int(part) for part in done.stdout.split())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        raise InterpreterError(f"{python} does not run as a Python interpreter") from None
    if (major, minor) < OLDEST_PYTHON:
        raise InterpreterError(
            f"{python} is Python {major}.{minor}; the runtime checker needs Python "
            f"{'.'.join(map(str, OLDEST_PYTHON))} or newer in the environment that runs the script (choose it with --python)")
    if not torch:
        raise InterpreterError(f"{python} (Python {major}.{minor}) cannot import torch: name the interpreter of the "
                               "environment the script trains in with --python, or install torch there")


def child_package(into: str) -> str:
    """Copy the modules the child needs into `into` (a folder to put first on the child's PYTHONPATH), so that
    the user's interpreter runs them without featlint, libcst or click installed in its environment."""
    from featlint.urls import project_urls

    package = Path(__file__).resolve().parents[1]
    for relative in CHILD_FILES:
        target = Path(into, "featlint", relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / relative, target)
    # urls.py reads the project's links from a pyproject.toml beside the package (featlint is not installed
    # where the child runs): this one holds only those, as this featlint knows them.
    links = "".join(f"{json.dumps(label)} = {json.dumps(address)}\n" for label, address in project_urls().items())
    Path(into, "pyproject.toml").write_text(f'[project]\nname = "featlint"\n\n[project.urls]\n{links}', encoding="utf-8")
    return into


@dataclasses.dataclass
class RunOutcome:
    script: str
    status: str  # stopped (after the requested steps), finished, failed, timed-out, crashed
    steps: int
    report: Report | None  # None only when the child died before it could report anything
    error: str | None  # the script's own exception, "TypeError: ..."
    network: list[str]
    stdout: str
    stderr: str
    returncode: int | None
    error_site: str | None = None  # `path:line` of the user's code where the error was raised
    written: list[str] = dataclasses.field(default_factory=list)  # project files the script wrote (redirected)
    fallback: str | None = None  # why this is a CPU step standing in for a meta run that could not be done

    @property
    def ok(self) -> bool:
        """Whether the run got far enough to judge: steps were watched, or the script ended on its own."""
        return self.status in ("stopped", "finished") and self.report is not None


def run_script(
    script: str | Path,
    args: Sequence[str] = (),
    *,
    steps: int = DEFAULT_STEPS,
    timeout: float = DEFAULT_TIMEOUT,
    device: str = "cpu",
    fake_data: bool = False,
    python: str | None = None,
    tiny_batches: bool = False,
) -> RunOutcome:
    """Run `script` in a child process under `python` (see `interpreter`); raises InterpreterError when that
    interpreter cannot run it."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    python = interpreter(python)
    check_interpreter(python)
    with tempfile.TemporaryDirectory(prefix="featlint-run-") as work:
        result_path = os.path.join(work, "result.json")
        config_path = os.path.join(work, "config.json")
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump({"script": str(script), "args": list(args), "steps": steps, "device": device,
                       "fake_data": fake_data, "result": result_path, "tiny_batches": tiny_batches,
                       "project": project_roots(str(script), os.getcwd()), "scratch": os.path.join(work, "scratch")},
                      handle)
        env = dict(os.environ)
        lib = child_package(os.path.join(work, "lib"))
        env["PYTHONPATH"] = os.pathsep.join([lib, *filter(None, [env.get("PYTHONPATH")])])  # spawned workers too
        env.setdefault("HF_HUB_OFFLINE", "1")  # Hugging Face loads (timm, transformers) use the local cache only
        if device != "cuda":
            env["CUDA_VISIBLE_DEVICES"] = ""  # the script's own `cuda if available` picks the CPU
        with open(os.path.join(work, "out"), "w+", encoding="utf-8", errors="replace") as out, \
                open(os.path.join(work, "err"), "w+", encoding="utf-8", errors="replace") as err:
            child = subprocess.Popen(
                [python, "-c", _START_CHILD, lib, config_path],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                start_new_session=os.name == "posix",  # its own process group: see _end_group
            )
            try:
                timed_out = _wait(child, timeout)
            finally:
                _end_group(child)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        result = _read(result_path)
    if result is None:
        status = "timed-out" if timed_out else "crashed"
        return RunOutcome(str(script), status, 0, None, None, [], stdout, stderr, child.returncode)
    return RunOutcome(
        str(script), "timed-out" if timed_out else result["status"], result["steps"],
        Report.from_dict(result["report"]) if result["report"] is not None else None, result["error"],
        result["network"], stdout, stderr, child.returncode, result["error_site"], result["written"],
    )


def _wait(child: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        child.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGTERM)  # the child stops the script and writes its report
        try:
            child.wait(GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return True


def _end_group(child: subprocess.Popen[bytes]) -> None:
    """Kill what the script started and left running (DataLoader workers, subprocesses, forks): they are in
    the child's process group, which outlives the child itself."""
    if os.name != "posix":
        return
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty
    if child.poll() is None:
        child.wait()


def _read(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
