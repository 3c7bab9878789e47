"""Moving a notebook's findings from program rows into its cells: the rows the rules saw are those of the
code cells joined into one program (featlint/reading/notebook.py); the user knows cells."""

from __future__ import annotations

import dataclasses

from featlint.diagnostics import Diagnostic, Edit, Fix, Location
from featlint.reading.notebook import Notebook


def _edit(edit: Edit, notebook: Notebook) -> Edit:
    # An insertion at the start of a cell is an insertion after the previous cell's last line (that is what
    # the rules' "insert a line after this statement" means): it stays in the cell of the statement.
    closing = edit.start == edit.end
    cell, row, column = notebook.locate(edit.start.row, edit.start.column, closing=closing)
    end_cell, end_row, end_column = notebook.locate(edit.end.row, edit.end.column, closing=True)
    end = Location(end_row, end_column) if end_cell == cell else Location(row, column)
    return Edit(edit.content, Location(row, column), end, cell)


def into_cells(diagnostic: Diagnostic, notebook: Notebook) -> Diagnostic:
    """The finding with its cell, and rows and columns counted in that cell (ruff's convention)."""
    cell, row, column = notebook.locate(diagnostic.start.row, diagnostic.start.column)
    end_cell, end_row, end_column = notebook.locate(diagnostic.end.row, diagnostic.end.column, closing=True)
    end = Location(end_row, end_column) if end_cell == cell and (end_row, end_column) >= (row, column) else (
        Location(row, column + 1)
    )
    fix = diagnostic.fix
    if fix is not None:
        fix = Fix(fix.message, tuple(_edit(edit, notebook) for edit in fix.edits), fix.applicability)
    return dataclasses.replace(diagnostic, start=Location(row, column), end=end, fix=fix, cell=cell)
