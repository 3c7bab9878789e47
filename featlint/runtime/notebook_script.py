"""`featlint run nb.ipynb`: the notebook's code cells, in order, run as the script they form.

The program featlint lints (featlint/reading/notebook.py: IPython lines replaced by `pass`, one line for
one line) is written beside the notebook, so that the notebook's folder is the script's folder (local imports
and relative paths work as in the kernel), run through the same harness as any script, and removed. The
findings are then moved from the script's rows into the notebook's cells.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from featlint.diagnostics import Diagnostic
from featlint.reading.notebook import Notebook, read_notebook
from featlint.reading.source import read_source
from featlint.running.cells import into_cells


@contextmanager
def as_script(path: Path) -> Iterator[tuple[Path, Notebook]]:
    """The notebook's program as a temporary script; UnreadableSource when the notebook cannot be read."""
    notebook = read_notebook(read_source(path))
    for folder in (path.absolute().parent, Path(tempfile.gettempdir())):
        try:
            handle, name = tempfile.mkstemp(prefix=f".featlint-run-{path.stem}-", suffix=".py", dir=folder)
        except OSError:  # a read-only folder: the script runs from the temporary directory instead
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as script:
            script.write(notebook.program)
        try:
            yield Path(name), notebook
        finally:
            Path(name).unlink(missing_ok=True)
        return
    raise OSError("no folder to write the notebook's script to")


def into_notebook(findings: Sequence[Diagnostic], script: Path, path: Path, notebook: Notebook) -> list[Diagnostic]:
    """The run's findings in the script, moved to the notebook's cells; findings elsewhere stay as they are."""
    inside = os.path.abspath(script)
    return [
        dataclasses.replace(into_cells(d, notebook), path=str(path.absolute())) if os.path.abspath(d.path) == inside
        else d for d in findings
    ]


def not_run(notebook: Notebook) -> str | None:
    """The note that says which IPython lines and cells the run skipped."""
    if not notebook.left_out:
        return None
    places = ", ".join(f"cell {cell}" if row == 0 else f"cell {cell} line {row}" for cell, row in notebook.left_out)
    return f"not run (IPython syntax, magics and shell commands): {places}"
