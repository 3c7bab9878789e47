"""`# noqa` comments, parsed the way ruff documents them, read from comment tokens only (a string that
contains "# noqa" suppresses nothing)."""

from __future__ import annotations

import dataclasses
import io
import re
import tokenize
from collections.abc import Container

from featlint.diagnostics import Diagnostic

# Codes in any case (`# NOQA: fl305`): ruff reads only upper-case ones, but a lower-case code can mean nothing
# else, and "without codes" would be a wrong account of such a comment.
_CODES = r"[A-Za-z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Za-z]+[0-9]+)*"
# `# noqa` (blanket) or `# noqa: FL101, FL202`; a colon with no code after it is an invalid directive.
NOQA_COMMENT = re.compile(rf"#\s*(?i:noqa)(?=$|[\s:#])(?:(?P<colon>\s*:\s*)(?P<codes>{_CODES})?)?")
# `# featlint: noqa` or `# featlint: noqa: FL101` on a line of its own (flake8's spelling too).
_FILE = re.compile(rf"^#\s*(?:featlint|flake8)\s*:\s*(?i:noqa)(?:\s*:\s*(?P<codes>{_CODES}))?\s*$")
_SPLIT = re.compile(r"[\s,]+")
ALL = None  # a blanket suppression
_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


@dataclasses.dataclass
class Suppressions:
    # Line number -> the codes suppressed there, or ALL.
    lines: dict[int, frozenset[str] | None] = dataclasses.field(default_factory=dict)
    file: frozenset[str] | None | bool = False  # False: no file-level directive
    warnings: list[str] = dataclasses.field(default_factory=list)

    def suppresses(self, diagnostic: Diagnostic) -> bool:
        if self.file is None or (isinstance(self.file, frozenset) and diagnostic.code in self.file):
            return True
        for row in {diagnostic.start.row, diagnostic.end.row}:
            if row in self.lines:
                codes = self.lines[row]
                if codes is ALL or diagnostic.code in codes:
                    return True
        return False


def _codes(text: str) -> frozenset[str]:
    return frozenset(code.upper() for code in _SPLIT.split(text.strip()) if code)


def parse_suppressions(source: str, known_codes: Container[str]) -> Suppressions:
    found = Suppressions()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return found  # only reached for files that parsed; then there is nothing reliable to read
    lines = source.splitlines()
    statements: list[tuple[int, int]] = []
    statement_start: int | None = None
    for token in tokens:
        if token.type == tokenize.NEWLINE and statement_start is not None:
            statements.append((statement_start, token.start[0]))
            statement_start = None
        elif statement_start is None and token.type not in _NOT_CODE:
            statement_start = token.start[0]
        if token.type != tokenize.COMMENT:
            continue
        row, column = token.start
        own_line = row <= len(lines) and not lines[row - 1][:column].strip()
        file_match = _FILE.match(token.string) if own_line else None
        if file_match is not None:
            codes = file_match.group("codes")
            found.file = _codes(codes) if codes else ALL
            _warn_unknown(found, row, found.file, known_codes)
            continue
        inline = NOQA_COMMENT.search(token.string)
        if inline is None:
            continue
        if inline.group("colon") and not inline.group("codes"):
            found.warnings.append(f"line {row}: `# noqa:` without codes suppresses nothing; name the codes")
            continue
        codes = _codes(inline.group("codes")) if inline.group("codes") else ALL
        found.lines[row] = codes
        _warn_unknown(found, row, codes, known_codes)
    _spread_over_statements(found, statements)
    return found


def _spread_over_statements(found: Suppressions, statements: list[tuple[int, int]]) -> None:
    """A noqa at the end of a multi-line statement covers every line of it (ruff's NoqaMapping): a
    formatter moves comments to the closing line, and users cannot put one inside a string."""
    for first, last in statements:
        if first == last or last not in found.lines:
            continue
        codes = found.lines[last]
        for row in range(first, last):
            mine = found.lines.get(row, frozenset())
            found.lines[row] = ALL if codes is ALL or mine is ALL else mine | codes


def _warn_unknown(found: Suppressions, row: int, codes: frozenset[str] | None, known: Container[str]) -> None:
    # Other tools' codes (E501, F401) share noqa comments; only our own prefix can be a mistake.
    for code in sorted(codes or ()):
        if code.startswith("FL") and code not in known:
            found.warnings.append(f"line {row}: unknown rule code {code} in a noqa comment")
