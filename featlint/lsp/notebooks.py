"""Notebooks in the editor (LSP 3.17 notebook document sync): the cells the client sends become one notebook,
linted as `featlint nb.ipynb` lints the file (the code cells are one program, magics skipped, the cells'
execution order read for FL002), and each finding goes back to the text document of its cell.

The client owns the cells; the server builds nbformat 4 JSON from them only to hand the engine what it reads
from disk, so positions, suppressions and fixes are the command line's. Fixes come back as edits of the
cells they change.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from featlint.diagnostics import Diagnostic
from featlint.lsp.positions import text_edit
from featlint.reading.notebook import read_notebook
from featlint.rules.base import Rule

# Every notebook whose cells include Python ones: Jupyter's, VS Code's interactive window, others.
SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[types.NotebookDocumentFilterWithCells(cells=[types.NotebookCellLanguage(language="python")])],
    save=True,
)


@dataclasses.dataclass
class LintedNotebook:
    """One lint of one version of a notebook, kept for the code actions asked about its cells."""

    version: int
    path: str  # how the engine names it (ends in .ipynb, so that it is read as a notebook)
    text: str  # the nbformat JSON built from the cells
    cell_uris: list[str]  # the text document of cell N is cell_uris[N - 1]
    rules: Sequence[Rule]
    findings: list[Diagnostic]
    diagnostics: list[types.Diagnostic]  # findings[i] as the client sees it, in its cell

    def cell_of(self, uri: str) -> int | None:
        return self.cell_uris.index(uri) + 1 if uri in self.cell_uris else None

    def source(self, cell: int) -> str:
        return read_notebook(self.text).cells[cell - 1].source


def as_json(notebook: types.NotebookDocument, document: Callable[[str], TextDocument]) -> str:
    """The notebook as Jupyter would save it, outputs left out: code cells in Python, the rest as raw."""
    cells: list[dict[str, object]] = []
    for cell in notebook.cells:
        text = document(cell.document)
        python = cell.kind == types.NotebookCellKind.Code and text.language_id in (None, "python")
        if python:
            summary = cell.execution_summary
            cells.append({
                "cell_type": "code", "execution_count": summary.execution_order if summary else None,
                "metadata": {}, "outputs": [], "source": text.source,
            })
        else:
            kind = "markdown" if cell.kind == types.NotebookCellKind.Markup else "raw"
            cells.append({"cell_type": kind, "metadata": {}, "source": text.source})
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def cell_changes(linted: LintedNotebook, after: str, codec: PositionCodec) -> dict[str, list[types.TextEdit]]:
    """The edits that turn each cell of `linted` into the same cell of the notebook JSON `after`."""
    changes: dict[str, list[types.TextEdit]] = {}
    for old, new in zip(read_notebook(linted.text).cells, read_notebook(after).cells):
        edit = text_edit(old.source, new.source, codec)
        if edit is not None:
            changes[linted.cell_uris[old.index - 1]] = [edit]
    return changes
