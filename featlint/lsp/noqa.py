"""The "suppress with noqa" code action: add a code to the `# noqa` comment that silences a finding.

The comment goes where featlint's noqa reading (featlint.suppression) will find it: on the last line of
the statement the finding ends in, since a noqa there covers every line of a multi-line statement, and a
comment cannot go inside a multi-line string.
"""

from __future__ import annotations

import io
import tokenize

from featlint.diagnostics import Diagnostic
from featlint.fixes import split_lines
from featlint.suppression import NOQA_COMMENT as NOQA  # the one reading of `# noqa`, shared with the linter


def _statement_end(tokens: list[tokenize.TokenInfo], row: int) -> int:
    """The line where the logical line containing `row` ends (its NEWLINE token)."""
    for token in tokens:
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER) and token.start[0] >= row:
            return token.start[0]
    return row


def add_noqa(source: str, diagnostic: Diagnostic) -> str | None:
    """`source` with `diagnostic.code` added to the noqa comment of its line; None when it cannot be done
    (a file that does not tokenize is a file whose findings are syntax errors, which noqa cannot hide)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    end = diagnostic.end
    row = end.row if end.column > 1 or end.row == diagnostic.start.row else end.row - 1
    row = _statement_end(tokens, row)
    lines = split_lines(source)
    if not 1 <= row <= len(lines):
        return None
    line = lines[row - 1]
    content = line.rstrip("\r\n")
    ending = line[len(content):]
    comment = next((t for t in tokens if t.type == tokenize.COMMENT and t.start[0] == row), None)
    if comment is not None:
        column = comment.start[1]
        match = NOQA.search(comment.string)
        if match is not None and match.group("codes"):
            at = column + match.end("codes")
            return _replace_line(lines, row, f"{content[:at]}, {diagnostic.code}{content[at:]}{ending}")
        if match is not None and match.group("colon"):  # `# noqa:` naming no code suppresses nothing
            at = column + match.end()
            return _replace_line(lines, row, f"{content[:at].rstrip()} {diagnostic.code}{content[at:]}{ending}")
    body = content.rstrip()
    return _replace_line(lines, row, f"{body}  # noqa: {diagnostic.code}{ending}")


def _replace_line(lines: list[str], row: int, new: str) -> str:
    return "".join([*lines[: row - 1], new, *lines[row:]])
