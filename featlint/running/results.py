"""What linting one file produces: its findings, the internal errors met on the way, and warnings.

Kept apart from the engine so that the cache and the worker processes can hold results without importing the
engine that makes them."""

from __future__ import annotations

import dataclasses

from featlint.diagnostics import Diagnostic


@dataclasses.dataclass(frozen=True)
class InternalError:
    path: str
    code: str | None  # the rule that failed; None when the shared analysis itself failed
    message: str

    def __str__(self) -> str:
        where = f"rule {self.code}" if self.code else "the analysis"
        return f"{self.path}: internal error in {where}: {self.message}"


@dataclasses.dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)
    errors: list[InternalError] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    source: str | None = None
