"""What linting one file produces: its findings, the internal errors met on the way, and warnings.

Kept apart from the engine so that the cache and the worker processes can hold results without importing the
engine that makes them."""

from __future__ import annotations

import dataclasses

from featlint.diagnostics import Diagnostic


@dataclasses.dataclass(frozen=True)
class InternalError:
    """A failure of featlint itself on one file: reported once, with where it happened, never hidden."""

    path: str
    code: str | None  # the rule that failed; None when a shared part of the analysis failed
    message: str
    line: int | None = None  # the line of the file being analysed when it failed, where known
    part: str | None = None  # the shared part that failed ("the model story"); None: the analysis as a whole
    rules: tuple[str, ...] = ()  # the rules that read the failed part, and so found nothing in this file

    @property
    def where(self) -> str:
        """What failed, as a message names it: `rule FL202`, `the model story`."""
        return f"rule {self.code}" if self.code else self.part or "the analysis"

    def __str__(self) -> str:
        at = f"{self.path}:{self.line}" if self.line is not None else self.path
        text = f"{at}: internal error in {self.where}: {self.message}"
        if self.rules:
            text += f" (not checked in this file: {', '.join(self.rules)})"
        return text


@dataclasses.dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)
    errors: list[InternalError] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    source: str | None = None
    # Statements the model story could not follow and treated as unknown (`path:line: Type: message`): no
    # finding is lost to them and nothing is printed, but the audits count them (none is the bar).
    unhandled: list[str] = dataclasses.field(default_factory=list)
    # The project's other modules the analysis read (path -> content digest): the result holds while they are
    # unchanged (the cache checks them).
    depends: dict[str, str] = dataclasses.field(default_factory=dict)
