"""The child process of `featlint run`: run the user's script as `__main__` under instrumentation.

`main([CONFIG.json])`, started by the parent from a copy of the runtime package (see runner.py), reads what
to run from CONFIG, installs the network guard, the weights interception, the optional fake data and meta device,
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
    # Stopped before the script starts (importing torch can take the whole timeout on a busy machine).
    signal.signal(signal.SIGTERM, lambda signum, frame: _bare(config, "timed-out", None))
    notes: list[str] = []
    network: list[str] = []

    from featlint.runtime import offline

    offline.block_network(network)
    import torch  # after the guard, so that nothing torch does at import can reach out

    if config["device"] == "cuda" and not torch.cuda.is_available():
        _bare(config, "refused", f"--device cuda: this torch ({torch.__version__}) sees no CUDA device "
                        "(torch.cuda.is_available() is False); use --device cpu or meta")
    from featlint.runtime.instrument import StopRun, Tracker, UserFiles
    from featlint.runtime.sandbox import Sandbox

    offline.intercept_weights(notes)
    script = os.path.abspath(config["script"])
    user = UserFiles(script)
    sandbox = Sandbox(config["project"], config["scratch"], os.path.dirname(config["result"]))
    sandbox.install()
    if config["fake_data"]:
        from featlint.runtime import fakedata

        fakedata.install(notes, user)
    meta = config["device"] == "meta"
    if meta or config["tiny_batches"]:
        from featlint.runtime import meta as meta_device

        if meta:
            meta_device.install(notes, user)
            notes.append("meta device: parameter values were not compared (run on cpu or cuda for FL702/FL703)")
        else:
            meta_device.tiny_batches()
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=script, __builtins__=builtins, __name__="__main__")

    def write(status: str, error: BaseException | None = None, stopped_by: BaseException | None = None,
              exit_message: str | None = None) -> None:
        namespaces = [module.__dict__, *_frame_locals(error or stopped_by, user)]
        sandbox_note = sandbox.note()
        result = _result(tracker, status, namespaces, error, [*notes, *_hints(error, user, config)]
                         + ([sandbox_note] if sandbox_note else []), network, meta, script)
        result["error"] = result["error"] or exit_message
        result["error_site"] = _error_site(error, user)
        result["written"] = list(sandbox.written)
        _write(config, result)

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
        print_user_traceback(raised, user)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    write(status, error, stopped_by, exit_message)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # DataLoader workers and the script's threads must not keep a stopped script alive


def _write(config: Mapping[str, Any], result: Mapping[str, Any]) -> None:
    temporary = config["result"] + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(temporary, config["result"])


def _bare(config: Mapping[str, Any], status: str, message: str | None) -> None:
    """End before the script started: refused (no CUDA for --device cuda) or timed out."""
    _write(config, {"status": status, "steps": 0, "report": None, "error": message, "network": [],
                    "error_site": None, "written": []})
    os._exit(0)


def print_user_traceback(error: BaseException, user: Any) -> None:
    """The script's traceback as Python would print it had the user run the script, without featlint's own
    frames (the child that ran it, the wrappers it put around torch)."""
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    shown = traceback.TracebackException.from_exception(error)
    for part in _chain(shown):
        frames = list(part.stack)
        first = next((i for i, f in enumerate(frames) if user(f.filename)), 0)
        part.stack = traceback.StackSummary.from_list(
            [f for f in frames[first:] if not os.path.abspath(f.filename).startswith(own)])
    sys.stderr.write("".join(shown.format()))


def _chain(shown: traceback.TracebackException) -> list[traceback.TracebackException]:
    found: list[traceback.TracebackException] = []
    part: traceback.TracebackException | None = shown
    while part is not None and all(part is not seen for seen in found):
        found.append(part)
        part = part.__cause__ or (None if part.__suppress_context__ else part.__context__)
    return found


def _error_site(error: BaseException | None, user: Any) -> str | None:
    """`path:line` of the innermost frame of the user's code the error passed through."""
    found = None
    tb = error.__traceback__ if error is not None else None
    while tb is not None:
        if user(tb.tb_frame.f_code.co_filename):
            found = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _hints(error: BaseException | None, user: Any, config: Mapping[str, Any]) -> list[str]:
    """What the user can do about an error featlint recognises: a data set that is not there."""
    tb = error.__traceback__ if error is not None else None
    while tb is not None and not config["fake_data"]:
        filename = tb.tb_frame.f_code.co_filename.replace(os.sep, "/")
        if "/torchvision/datasets/" in filename:
            return ["the script failed while loading a torchvision data set: rerun with --fake-data to replace "
                    "data sets that cannot be loaded by random images of the right size"]
        tb = tb.tb_next
    return []


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
