"""The child process of `featlint run`: run the user's script as `__main__` under instrumentation.

`python -m featlint.runtime.child CONFIG.json` reads what to run from CONFIG (written by the parent, see
runner.py), installs the network guard, the weights interception, the optional fake data and meta device,
and the step tracker, runs the script, and writes the result (the report as JSON) to the file CONFIG names,
after every watched step too, so that a run stopped by the timeout still reports what it saw.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import traceback
import types
from collections.abc import Mapping
from typing import Any


class TimedOut(BaseException):
    """The parent's timeout (SIGTERM): stop the script where it is and report on what it built."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise TimedOut


def main(argv: list[str]) -> None:
    with open(argv[0], encoding="utf-8") as handle:
        config = json.load(handle)
    notes: list[str] = []
    network: list[str] = []

    from featlint.runtime import offline

    offline.block_network(network)
    import torch  # noqa: F401 - after the guard, so that nothing torch does at import can reach out

    from featlint.runtime.instrument import StopRun, Tracker, UserFiles

    offline.intercept_weights(notes)
    script = os.path.abspath(config["script"])
    user = UserFiles(script)
    if config["fake_data"]:
        from featlint.runtime import fakedata

        fakedata.install(notes, user)
    meta = config["device"] == "meta"
    if meta:
        from featlint.runtime import meta as meta_device

        meta_device.install()
        notes.append("meta device: parameter values were not compared (run on cpu or cuda for FL702/FL703)")
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=script, __builtins__=builtins, __name__="__main__")

    def write(status: str, error: BaseException | None = None, stopped_by: BaseException | None = None,
              exit_message: str | None = None) -> None:
        namespaces = [module.__dict__, *_frame_locals(error or stopped_by, user)]
        result = _result(tracker, status, namespaces, error, notes, network, meta, script)
        result["error"] = result["error"] or exit_message
        temporary = config["result"] + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        os.replace(temporary, config["result"])

    tracker = Tracker(user, config["steps"], meta, on_step=lambda: write("running"))
    tracker.install()
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.argv = [script, *config["args"]]
    sys.path.insert(0, os.path.dirname(script))
    sys.modules["__main__"] = module
    error: BaseException | None = None
    stopped_by: BaseException | None = None
    exit_message: str | None = None
    try:
        with open(script, "rb") as handle:
            code = compile(handle.read(), script, "exec")
        exec(code, module.__dict__)
        status = "finished"
    except StopRun as stop:
        status, stopped_by = "stopped", stop
    except TimedOut as stop:
        status, stopped_by = "timed-out", stop
    except SystemExit as exit_:
        status = "finished" if exit_.code in (0, None) else "failed"
        exit_message = None if status == "finished" else f"SystemExit: {exit_.code}"
    except BaseException as raised:  # noqa: BLE001 - the script's own error is part of the report
        status, error = "failed", raised
        traceback.print_exc()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    write(status, error, stopped_by, exit_message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # DataLoader workers and the script's threads must not keep a stopped script alive


def _frame_locals(error: BaseException | None, user: Any) -> list[Mapping[str, Any]]:
    """The local variables of the user's functions the error passed through (`model` inside `main()`)."""
    found = []
    tb = error.__traceback__ if error is not None else None
    while tb is not None:
        if user(tb.tb_frame.f_code.co_filename):
            found.append(tb.tb_frame.f_locals)
        tb = tb.tb_next
    return found


def _result(
    tracker: Any, status: str, namespaces: list[Mapping[str, Any]], error: BaseException | None,
    notes: list[str], network: list[str], meta: bool, script: str,
) -> dict[str, Any]:
    from featlint.runtime.observe import observe

    report = observe(tracker, namespaces, error, notes, meta, script)
    return {
        "status": status,
        "steps": tracker.steps,
        "report": report.to_dict(),
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "network": list(dict.fromkeys(network)),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
