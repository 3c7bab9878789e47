"""Where nodes are in the source, computed more cheaply than libcst's PositionProvider.

PositionProvider regenerates the file's code and, for every token, splits it on newlines and builds
position objects for every node; on a file with findings that costs nearly twice the parse. Here the
same code generation only keeps a running character offset per node (the same syntactic ranges libcst
records, so spans are identical), and offsets become line and column only for the nodes a rule reports.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from contextlib import contextmanager

import libcst as cst
from libcst._nodes.internal import CodegenState  # the hook libcst's own position providers use

_NEWLINE = re.compile(r"\r\n?|\n")


class _OffsetState(CodegenState):
    """Code generation that remembers each node's start and end offset in the generated text."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self.ranges: dict[cst.CSTNode, tuple[int, int]] = {}
        self._stack: list[int] = []

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def pop_trailing_newline(self) -> None:
        """Keep it: positions were counted with it, as in libcst (only the text would lose it)."""

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        if node not in self.ranges:  # a syntactic range recorded inside wins
            self.ranges[node] = (start, self.offset)

    @contextmanager
    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> Iterator[None]:
        start = self.offset
        try:
            yield
        finally:
            end = self.offset
            if start_node is not None:
                start = self.ranges[start_node][0]
            if end_node is not None:
                end = self.ranges[end_node][1]
            self.ranges[node] = (start, end)


class Positions:
    """1-based line and 0-based column of a node's start and end, like libcst's CodeRange."""

    def __init__(self, module: cst.Module) -> None:
        state = _OffsetState(module)
        module._codegen(state)
        self._ranges = state.ranges
        code = "".join(state.tokens)
        self._line_starts = [0, *(match.end() for match in _NEWLINE.finditer(code))]

    def _point(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line]

    def holds(self, node: cst.CSTNode) -> bool:
        """`node` is part of this module (not of another module of the project)."""
        return node in self._ranges

    def span(self, node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        start, end = self._ranges[node]
        return self._point(start), self._point(end)
