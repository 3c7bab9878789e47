"""The one finding type that every rule produces and every output format renders.

Rows and columns are 1-based, as in ruff's JSON and in SARIF; an end column points just past the last
character of the span (SARIF's exclusive end), so ``end.column - start.column`` is the span's width on one line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def letter(self) -> str:
        return self.value[0].upper()


class Applicability(str, enum.Enum):
    """Ruff's split: a safe fix keeps what the program does; an unsafe one may change it."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Location:
    row: int
    column: int

    def to_json(self) -> dict[str, int]:
        return {"row": self.row, "column": self.column}


@dataclass(frozen=True)
class Edit:
    """Replace the text between ``start`` and ``end`` (exclusive) with ``content``; an insertion has start == end."""

    content: str
    start: Location
    end: Location
    cell: int | None = None  # in a notebook: the cell the rows count in (a fix may edit another cell)

    def to_json(self) -> dict[str, object]:
        edit: dict[str, object] = {
            "content": self.content, "location": self.start.to_json(), "end_location": self.end.to_json()
        }
        if self.cell is not None:
            edit["cell"] = self.cell
        return edit


@dataclass(frozen=True)
class Fix:
    message: str
    edits: tuple[Edit, ...]
    applicability: Applicability = Applicability.SAFE

    def to_json(self) -> dict[str, object]:
        return {
            "message": self.message,
            "applicability": self.applicability.value,
            "edits": [edit.to_json() for edit in self.edits],
        }


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    severity: Severity
    message: str
    path: str
    start: Location
    end: Location
    fix: Fix | None = None
    # In a notebook: the cell (ruff's number: 1-based in the `cells` array, markdown counted); the rows and
    # columns then count in that cell, as in ruff's JSON.
    cell: int | None = None

    @property
    def url(self) -> str:
        from featlint.urls import rule_url

        return rule_url(self.code)

    @property
    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.start.row, self.start.column, self.code)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "filename": self.path,
            "cell": self.cell,
            "location": self.start.to_json(),
            "end_location": self.end.to_json(),
            "fix": self.fix.to_json() if self.fix else None,
            "url": self.url,
        }
