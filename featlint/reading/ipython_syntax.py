"""IPython syntax in a code cell, turned into Python one line for one line: magics and shell escapes become
`pass` of the same indentation, `%time x = f()` keeps `x = f()` (the map records how far it moved), and a
cell magic that makes the cell another language (`%%bash`) leaves the cell out."""

from __future__ import annotations

import io
import re
import tokenize

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
# Cell magics whose body is Python that IPython runs as it stands; any other `%%magic` (bash, writefile,
# html, javascript, sql, ...) means the cell is not Python and is left out.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "python", "python3", "debug", "memit"})
# Line magics followed by a Python statement that IPython runs.
_CODE_MAGIC = re.compile(r"%(?:time|timeit|prun|memit)\s+(?:-[a-zA-Z](?:\s*\d+(?:\.\d+)?)?\s+)*(?=\S)")
_MAGIC_START = re.compile(r"[ \t]*(?:%|!|\?)")
# `model?`, `model.fc??`, `?model`, `??torch.nn`: IPython's help.
_HELP = re.compile(r"[ \t]*(?:\?{1,2}[\w.*]+|[\w.*\[\]()]+\?{1,2})\s*$")
# `files = !ls`, `out = %sx ls`: a name bound to a shell command's output.
_ASSIGNED_MAGIC = re.compile(r"[ \t]*[\w.\[\], ]+?\s*=\s*[%!]")
_CANDIDATE = re.compile(r"^[ \t]*[%!?]|\?\s*$|=\s*[%!]", re.MULTILINE)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python's tokenizer ends a line."""
    return _LINE.findall(text)


def python_lines(source: str) -> tuple[list[str], dict[int, int]]:
    """The cell as Python lines, one for each of its lines; [] when the cell is not Python (`%%bash`).

    Returns the lines and, by 1-based cell row, how many characters were taken from the start of a line
    (`%time x = f()` becomes `x = f()`)."""
    lines = split_lines(source)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    shifts: dict[int, int] = {}
    if first is not None and lines[first][:1] in (" ", "\t"):
        # IPython's leading_indent: a cell whose first line is indented runs with that indent taken from
        # every line that starts with it.
        prefix = lines[first][: len(lines[first]) - len(lines[first].lstrip(" \t"))]
        for index, line in enumerate(lines):
            if line.startswith(prefix):
                lines[index] = line[len(prefix):]
                shifts[index + 1] = len(prefix)
    if not lines or not _CANDIDATE.search(source):
        return lines, shifts
    changed: dict[int, str] = {}
    start = 0
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = re.match(r"\s*%%(\w*)", lines[first])
        if name is None or name.group(1) not in PYTHON_CELL_MAGICS:
            return [], {}
        changed[first] = _placeholder(lines[first], "")
        start = first + 1
    continued = False
    for index in range(start, len(lines)):
        line = lines[index]
        body = line.rstrip("\r\n")
        if continued:
            changed[index] = _placeholder(line, indent)
        elif _MAGIC_START.match(body) or _HELP.match(body) or _ASSIGNED_MAGIC.match(body):
            indent = body[: len(body) - len(body.lstrip())]
            code = _CODE_MAGIC.match(body, len(indent))
            rest = body[code.end():] if code is not None else ""
            if code is not None and not rest.rstrip().endswith("\\") and _compiles(rest):
                changed[index] = indent + rest + line[len(body):]
                shifts[index + 1] = shifts.get(index + 1, 0) + code.end() - len(indent)
            else:
                changed[index] = _placeholder(line, indent)
        else:
            continue
        continued = body.endswith("\\")
    if changed:
        _keep_inside_strings(lines, changed)
    for index, text in changed.items():
        lines[index] = text
    return lines, shifts


def _placeholder(line: str, indent: str) -> str:
    ending = line[len(line.rstrip("\r\n")):]
    return f"{indent}pass{ending}"


def _compiles(code: str) -> bool:
    try:
        compile(code, "<magic>", "exec", 0x400)  # ast.PyCF_ONLY_AST, without importing ast
    except (SyntaxError, ValueError):
        return False
    return True


def _keep_inside_strings(lines: list[str], changed: dict[int, str]) -> None:
    """Undo the replacements of lines that do not start a statement: inside a triple-quoted string or
    brackets, `%d items` or `!x` is text or an operand, not IPython syntax."""
    trial = [changed.get(i, line) for i, line in enumerate(lines)]
    starts: set[int] = set()
    expect_start = True
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(trial)).readline):
            if token.type in (tokenize.NEWLINE, tokenize.NL) and depth == 0:
                expect_start = True
                continue
            if token.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENCODING):
                continue
            if expect_start:
                starts.add(token.start[0] - 1)
                expect_start = False
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth = max(depth - 1, 0)
    except tokenize.TokenError:
        pass  # an unclosed bracket at the end: the lines read so far still say where statements start
    except SyntaxError:
        return
    continuation = {i for i in changed if i - 1 in changed and lines[i - 1].rstrip("\r\n").endswith("\\")}
    for index in [i for i in changed if i not in starts and i not in continuation]:
        del changed[index]
