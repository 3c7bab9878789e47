"""Python's cyclic garbage collector, set to run less often in the processes that lint.

libcst builds a tree of Python objects for every file it parses (hundreds of thousands of nodes for a large
module), and a project-wide run also keeps the parsed modules of the project. With CPython's default
thresholds a collection starts every 700 new objects, and while a tree is built every young node is walked
again at each one, then again in the older generations, together with every tree kept: work that frees
nothing, since a syntax tree holds no reference cycle. `benchmarks/bench_gc.py` measures it: on every 4th file
of torch and torchvision, a third of the time as a project, a tenth without following imports.

Like mypy, which calls `gc.set_threshold(200 * 1000, 30, 30)` before a build, the command and its worker
processes raise the thresholds; the editor server and programs that call `featlint.lint_source` keep
Python's defaults. Removing this module and its two calls changes nothing but speed.
"""

from __future__ import annotations

import gc
import platform

THRESHOLDS = (200_000, 30, 30)


def collect_less_often() -> None:
    if platform.python_implementation() == "CPython":
        gc.set_threshold(*THRESHOLDS)
