"""Positions between featlint (1-based rows, 1-based columns in code points) and LSP (0-based lines,
characters in the negotiated code units, UTF-16 unless the client offers better).

Lines are split only at \\n, \\r\\n and \\r, as the LSP specification says; Python's `str.splitlines`
would also split at form feeds and U+2028, which Python source may contain.
"""

from __future__ import annotations

import bisect

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from featlint.diagnostics import Location
from featlint.fixes import split_lines


class Lines:
    def __init__(self, text: str, codec: PositionCodec) -> None:
        self.text = text
        self.codec = codec
        self.lines = split_lines(text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def _content(self, index: int) -> str:
        return self.lines[index].rstrip("\r\n")

    def _position(self, line: int, column: int) -> types.Position:
        """0-based line and code-point column, clamped to the document, in client units."""
        if line >= len(self.lines):
            if not self.lines or self.text.endswith(("\n", "\r")):
                return types.Position(line=len(self.lines), character=0)
            line, column = len(self.lines) - 1, len(self._content(len(self.lines) - 1))
        content = self._content(line)
        return types.Position(line=line, character=self.codec.client_num_units(content[: max(column, 0)]))

    def position(self, location: Location) -> types.Position:
        return self._position(location.row - 1, location.column - 1)

    def range(self, start: Location, end: Location) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))

    def at_offset(self, offset: int) -> types.Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return self._position(line, offset - self.starts[line])


def text_edit(before: str, after: str, codec: PositionCodec) -> types.TextEdit | None:
    """One edit that turns `before` into `after`: the span between their common prefix and suffix."""
    if before == after:
        return None
    limit = min(len(before), len(after))
    prefix = 0
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    # A position cannot fall between the \r and \n of one line break: widen the edit to take both.
    if 0 < prefix < len(before) and before[prefix - 1] == "\r" and before[prefix] == "\n":
        prefix -= 1
    end = len(before) - suffix
    if 0 < end < len(before) and before[end - 1] == "\r" and before[end] == "\n":
        suffix -= 1
        end += 1
    lines = Lines(before, codec)
    return types.TextEdit(
        range=types.Range(start=lines.at_offset(prefix), end=lines.at_offset(end)),
        new_text=after[prefix: len(after) - suffix],
    )
