"""Ruff's full format: the concise headline, then the line with the span underlined, then the fix's help.

Columns count code points but a terminal draws cells: a tab spans up to the next tab stop, a CJK character
two cells, a combining accent none. The line is redrawn with those widths so that the carets stay under the
span; control characters are drawn as visible symbols so that they cannot move the cursor.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from featlint.diagnostics import Diagnostic
from featlint.outputs._shared import SourceLines
from featlint.outputs.concise import headline

if TYPE_CHECKING:
    from featlint.outputs.report import Report

TAB_STOP = 4


def _cell(char: str, column: int) -> tuple[str, int]:
    """How one character is drawn when it starts at display column `column`, and its width in cells."""
    if char == "\t":
        width = TAB_STOP - column % TAB_STOP
        return " " * width, width
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        # U+2400.. are the pictures of the C0 controls (\f shows as "␌"); anything else gets U+FFFD.
        picture = chr(0x2400 + ord(char)) if ord(char) < 0x20 else "\u2421" if char == "\x7f" else "\ufffd"
        return picture, 1
    if category in ("Mn", "Me", "Cf"):
        return char, 0
    return char, 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _draw(line: str) -> tuple[str, list[int]]:
    """The line as drawn, and the display column at which each character (and the end of the line) starts."""
    pieces: list[str] = []
    starts: list[int] = []
    column = 0
    for char in line:
        starts.append(column)
        piece, width = _cell(char, column)
        pieces.append(piece)
        column += width
    starts.append(column)
    return "".join(pieces), starts


def _frame(diagnostic: Diagnostic, line: str) -> list[str]:
    text, starts = _draw(line)
    # Clamp into the line: a parser may report a column past its end, and a span that continues on later
    # lines is underlined to the end of its first one.
    first = min(max(diagnostic.start.column - 1, 0), len(line))
    last = min(diagnostic.end.column - 1, len(line)) if diagnostic.end.row == diagnostic.start.row else len(line)
    left, right = starts[first], starts[max(last, first)]
    row = str(diagnostic.start.row)
    gutter = " " * len(row)
    return [
        f"{gutter} |",
        f"{row} | {text}".rstrip(),
        f"{gutter} | {' ' * left}{'^' * max(right - left, 1)}",
        f"{gutter} |",
    ]


def _block(diagnostic: Diagnostic, lines: SourceLines) -> str:
    parts = [headline(diagnostic)]
    line = lines.line(diagnostic.path, diagnostic.start.row, diagnostic.cell)
    if line is not None:
        parts += _frame(diagnostic, line)
    if diagnostic.fix is not None:
        parts.append(f"help: {diagnostic.fix.message}")
    return "\n".join(parts)


def render(report: Report) -> str:
    lines = SourceLines(report.sources)
    return "\n\n".join(_block(d, lines) for d in report.diagnostics)
