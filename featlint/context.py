"""What a rule sees of one file: its analysis, and the means to report a finding with a span and a fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from featlint.analysis import FileAnalysis
from featlint.startup.deferred import cst
from featlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location, Severity

if TYPE_CHECKING:
    from featlint.positions import Positions
    from featlint.reading.notebook import Notebook


class Reporter(Protocol):
    """What a finding needs of the rule that reports it. A protocol rather than rules.base.Rule, because rules
    depend on this module and not the other way round."""

    code: str
    name: str
    severity: Severity


class FileContext:
    def __init__(
        self, path: str, source: str, module: cst.Module, analysis: FileAnalysis, notebook: Notebook | None = None
    ) -> None:
        self.path = path
        self.source = source
        self.module = module
        self.analysis = analysis
        # A notebook's cells (which program rows each holds, its execution count); None for a script. The
        # rows rules see are the program's; findings are moved into their cells after the rules ran.
        self.notebook = notebook
        self._positions: Positions | None = None
        # The nodes the message being built cites (`ctx.where`; `ctx.line` also serves rules' own
        # computations, and names a line of this file only), and the findings that turned out
        # to belong to another module of the project (see `report`): the engine drops those.
        self._cited: list[cst.CSTNode] = []
        self._owned_elsewhere: set[int] = set()

    def _located(self) -> Positions:
        # Computed on the first report only: most files report nothing.
        if self._positions is None:
            # Here: Positions subclasses libcst's code generator, so importing it loads libcst.
            from featlint.positions import Positions

            self._positions = Positions(self.module)
        return self._positions

    def _elsewhere(self, node: cst.CSTNode) -> bool:
        """`node` belongs to another module of the project, reached through a call (featlint.analysis.project)."""
        return self.analysis.project is not None and not self._located().holds(node)

    def _span(self, node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        if self._elsewhere(node):
            # A node of another module of the project: the finding is the linted file's call into it.
            anchor = self.analysis.project.anchor(node)  # type: ignore[union-attr]
            if anchor is not None:
                node = anchor
        return self._located().span(node)

    def start(self, node: cst.CSTNode) -> Location:
        line, column = self._span(node)[0]
        return Location(line, column + 1)

    def end(self, node: cst.CSTNode) -> Location:
        line, column = self._span(node)[1]
        return Location(line, column + 1)

    def line(self, node: cst.CSTNode) -> int:
        return self._span(node)[0][0]

    def where(self, node: cst.CSTNode) -> str:
        """How a message cites another line: "line 4", or in a notebook "cell 2, line 4"."""
        self._cited.append(node)
        elsewhere = self.analysis.project.where(node) if self._elsewhere(node) else None  # type: ignore[union-attr]
        if elsewhere is not None:
            return elsewhere  # "models/backbone.py:41"
        row = self.line(node)
        return self.notebook.where(row) if self.notebook is not None else f"line {row}"

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def replace(self, node: cst.CSTNode, content: str) -> Edit:
        return Edit(content, self.start(node), self.end(node))

    def insert_line_after(self, statement: cst.CSTNode, text: str) -> Edit:
        """A new line after the physical line where `statement` ends, indented like the statement."""
        start, end = self.start(statement), self.end(statement)
        indent = " " * (start.column - 1)
        at = Location(end.row + 1, 1)
        return Edit(f"{indent}{text}\n", at, at)

    def report(
        self,
        rule: Reporter,
        node: cst.CSTNode,
        message: str,
        *,
        fix_message: str | None = None,
        edits: Sequence[Edit] = (),
        applicability: Applicability = Applicability.SAFE,
    ) -> Diagnostic:
        fix = Fix(fix_message or "", tuple(edits), applicability) if edits else None
        cited, self._cited = self._cited, []
        home = self.analysis.project.module_of(node) if self._elsewhere(node) else None  # type: ignore[union-attr]
        if home is not None:
            message = f"{message} (in {self.analysis.project.where(node)}, reached through this call)"  # type: ignore[union-attr]
        found = Diagnostic(
            rule.code, rule.name, rule.severity, message, self.path, self.start(node), self.end(node), fix
        )
        if home is not None and all(
            self._elsewhere(other) and self.analysis.project.module_of(other) == home  # type: ignore[union-attr]
            for other in cited
        ):
            # Everything the finding rests on lies in that one module: linting it shows the finding there,
            # and the linted file only called into it. Reported here too, it would be the same bug twice.
            self._owned_elsewhere.add(id(found))
        return found

    def belongs_elsewhere(self, diagnostic: Diagnostic) -> bool:
        """A finding `report` made whose statements all lie in one other module of the project."""
        return id(diagnostic) in self._owned_elsewhere
