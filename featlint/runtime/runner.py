"""The parent side of `featlint run`: start the child, enforce the timeout, read its report back.

Torch-free: the script runs in a child process (`python -m featlint.runtime.child`), so a crash, a hang or a
`sys.exit` in the user's code cannot take featlint down, and what the script prints is captured and shown
when it fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from featlint.runtime.report import Report

DEFAULT_STEPS = 10
DEFAULT_TIMEOUT = 300.0  # seconds; building and stepping a large model on a CPU takes minutes
GRACE = 15.0  # seconds between asking the child to stop (it reports what it saw) and killing it
DEVICES = ("cpu", "cuda", "meta")


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
) -> RunOutcome:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    with tempfile.TemporaryDirectory(prefix="featlint-run-") as work:
        result_path = os.path.join(work, "result.json")
        config_path = os.path.join(work, "config.json")
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump({"script": str(script), "args": list(args), "steps": steps, "device": device,
                       "fake_data": fake_data, "result": result_path}, handle)
        env = dict(os.environ)
        if device != "cuda":
            env["CUDA_VISIBLE_DEVICES"] = ""  # the script's own `cuda if available` picks the CPU
        with open(os.path.join(work, "out"), "w+", encoding="utf-8", errors="replace") as out, \
                open(os.path.join(work, "err"), "w+", encoding="utf-8", errors="replace") as err:
            child = subprocess.Popen(
                [sys.executable, "-m", "featlint.runtime.child", config_path],
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
        Report.from_dict(result["report"]), result["error"], result["network"], stdout, stderr, child.returncode,
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
