"""The `featlint` command's entry point (the console script and `python -m featlint`).

Two costs of a single-file run are not featlint's work at all, and this module removes both:
- Defining dataclasses: the command runs with dataclass methods compiled by an earlier run
  (featlint/startup/dataclass_code.py). featlint imports its modules as a command needs them, and libcst only when a
  file is parsed, so the cache stays in place for the whole command.
- Python's clean-up at exit, which frees every module and object one by one (about 35 ms after a parse, a
  tenth of the run). Like mypy, the entry point ends the process at once when the command is done: by then
  the worker pool is shut down and every file featlint wrote is closed; the standard streams and logging
  handlers (the editor server's) are flushed here. `featlint.cli.main`, which tests and other programs call in
  process, exits the ordinary way.
A third cost is Python's cyclic garbage collector walking libcst's trees, which hold no cycles: the command
runs with higher collection thresholds (featlint/startup/collector.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def main(argv: Sequence[str] | None = None) -> NoReturn:
    from featlint.startup.collector import collect_less_often
    from featlint.startup.dataclass_code import compiled_dataclass_methods

    collect_less_often()

    status: object = None
    with compiled_dataclass_methods():
        from featlint.cli import main as run

        try:
            run(argv)
        except SystemExit as done:
            status = done.code
    if not isinstance(status, int):  # a message or None: Python's own exit prints and maps it
        raise SystemExit(status)
    _end_process(status)


def _end_process(status: int) -> NoReturn:
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`featlint . | head`): what was not read is lost anyway
            pass
    os._exit(status)
