"""libcst's parse of a large file, done a piece at a time so that its memory stays bounded.

libcst's native parser needs about 500 bytes of transient memory per byte of source (its tokens and the
memoised results of its PEG grammar; over 1,000 on number-heavy generated code), freed as soon as the tree is
built, which is a tenth of that. torch's 1.3 MB `common_methods_invocations.py` takes 740 MiB to parse and
leaves a 47 MB tree. So a file of `PIECEWISE_FROM` bytes or more is cut before the first line of top-level
statements (Python's own parser, which needs a fifth of libcst's memory, says where they begin) into pieces of
about `PIECE_SIZE` bytes; each piece is parsed alone and their statements are put into one module. A
statement that is itself larger, when it assigns a list or dict literal (a table of 500 operators, a
generated dictionary of numbers), is parsed as the statement with an empty literal plus the literal's
elements in runs of about `PIECE_SIZE`, cut only where nothing but a comma, blanks and comments lies between
two elements, and again inside an element that is a large literal itself. Other large statements (a class
of 400 KB) are parsed whole.

The result is the tree libcst builds for the whole file, node for node (benchmarks/bench_piecewise.py checks
every large file of torch and torchvision, tests/test_piecewise.py a sample and the hard cases):
- A piece ends just before the next statement's first line, so the blank lines and comments in between,
  which the whole-file parse gives to that statement, are the piece's footer: they are handed back to it.
- A run of elements parsed alone gives the blanks after its last comma to its closing bracket; in the file
  they follow the comma, so they go back to the comma.
- The module's settings (indentation, line ending) must agree between the pieces; where they do not (a file
  mixing indentation widths or line endings) the file is parsed whole, as it is when Python cannot parse it
  (libcst then reports the error, or accepts syntax newer than the running Python's). A statement whose
  parts print anything but its own text is parsed whole too.
"""

from __future__ import annotations

import ast
import itertools
import re
import warnings
from dataclasses import dataclass

from featlint.startup.deferred import cst

PIECEWISE_FROM = 128 * 1024  # smaller files are parsed whole: the split is not worth its own parse
PIECE_SIZE = 32 * 1024


@dataclass
class _Piece:
    text: str
    display: ast.List | ast.Dict | None = None  # the piece is one statement assigning this large display
    first_line: int = 1  # the piece's first line in the file


def parse_module(
    text: str, python_tree: ast.Module | None = None, *, piecewise_from: int | None = None,
    piece_size: int | None = None,
) -> cst.Module:
    """`cst.parse_module(text)`, with the same errors, in bounded memory (the sizes default to the module's).
    `python_tree`, Python's own tree of `text` where the caller has it, saves parsing the text with `ast` again;
    the caller must not keep it, or its memory adds to the parse's."""
    piecewise_from = PIECEWISE_FROM if piecewise_from is None else piecewise_from
    piece_size = PIECE_SIZE if piece_size is None else piece_size
    if len(text) < piecewise_from:
        return cst.parse_module(text)
    pieces = _pieces(text, piece_size, python_tree)
    del python_tree  # from here on only the large literals' subtrees are needed (held by their pieces)
    if len(pieces) < 2 and pieces[0].display is None:
        return cst.parse_module(text)
    modules = [_parse_piece(piece, piece_size) for piece in pieces]
    settings = {(module.default_indent, module.default_newline, module.encoding) for module in modules}
    if len(settings) != 1 or any(module.header or not module.body for module in modules[1:]):
        return cst.parse_module(text)
    return _joined(modules)


def _pieces(text: str, piece_size: int, python_tree: ast.Module | None = None) -> list[_Piece]:
    """`text` cut before the first line of top-level statements into runs of about `piece_size` characters, a
    statement larger than that in a piece of its own; the whole text when Python cannot parse it (libcst then
    reports the error, or accepts syntax newer than Python's)."""
    statements = _top_level_statements(python_tree or _python_tree(text))
    if not statements:
        return [_Piece(text)]
    offsets = [*_line_starts(text), len(text)]
    pieces: list[_Piece] = []
    begin, begin_line, members = 0, 1, []
    for line, statement in statements:
        if line is not None:
            cut = offsets[line - 1]
            large = offsets[statement.end_lineno or line] - cut >= piece_size
            if cut - begin >= piece_size or (large and members):
                pieces.append(_piece(text[begin:cut], members, begin_line, piece_size))
                begin, begin_line, members = cut, line, []
        members.append(statement)
    pieces.append(_piece(text[begin:], members, begin_line, piece_size))
    return pieces


def _piece(text: str, members: list[ast.stmt], first_line: int, piece_size: int) -> _Piece:
    statement = members[0]
    value = getattr(statement, "value", None)
    alone = len(members) == 1 and len(text) >= piece_size
    if alone and isinstance(statement, (ast.Assign, ast.AnnAssign, ast.Expr)) and isinstance(value, (ast.List, ast.Dict)):
        return _Piece(text, value, first_line)
    return _Piece(text, None, first_line)


def _python_tree(text: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def _top_level_statements(tree: ast.Module | None) -> list[tuple[int | None, ast.stmt]]:
    """Each top-level statement with its first line (decorators included) where a piece may begin: not the
    first statement, nor one that shares a line with the one before (`a = 1; b = 2`); none without a tree."""
    if tree is None:
        return []
    found: list[tuple[int | None, ast.stmt]] = []
    previous_end = None
    for statement in tree.body:
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])
        found.append((first if previous_end is not None and first > previous_end else None, statement))
        previous_end = statement.end_lineno or statement.lineno
    return found


def _parse_piece(piece: _Piece, piece_size: int) -> cst.Module:
    if piece.display is not None:
        module = _with_display_in_parts(piece, piece_size)
        if module is not None:
            return module
    return cst.parse_module(piece.text)


# A display's brackets, and libcst's attribute for the closing one.
_BRACKETS: dict[type[ast.expr], tuple[str, str, str]] = {ast.List: ("[", "]", "rbracket"), ast.Dict: ("{", "}", "rbrace")}
# What may lie between two elements where the display is cut: the comma, blanks and comments; a parenthesis
# there belongs to a parenthesised element, whose position Python's AST gives without it.
_BETWEEN = re.compile(r"[ \t\f\r\n]*,(?:[ \t\f\r\n]+|#[^\r\n]*)*")


def _with_display_in_parts(piece: _Piece, piece_size: int) -> cst.Module | None:
    """The piece (one statement assigning a large list or dict literal) parsed as the statement with an empty
    display, the display parsed in parts (`_display`), and the two put together; None where the display cannot
    be cut or the parts do not fit (the caller parses the piece whole)."""
    assert piece.display is not None, "a piece of a large file without the text it shows"
    text, locate = piece.text, _Locator(piece.text, piece.first_line)
    span = _display_span(piece.display, text, locate)
    full = _display(piece.display, span, text, locate, piece_size) if span else None
    if span is None or full is None:
        return None
    skeleton = cst.parse_module(text[: span[0] + 1] + text[span[1] :])
    line = skeleton.body[0] if len(skeleton.body) == 1 else None
    if not isinstance(line, cst.SimpleStatementLine):
        return None
    statement = line.body[0]
    if not _empty_like(getattr(statement, "value", None), full):
        return None
    statement = statement.with_changes(value=full)
    module = skeleton.with_changes(body=[line.with_changes(body=[statement, *line.body[1:]])])
    return module if module.code == text else None


def _display_span(display: ast.List | ast.Dict, text: str, locate: _Locator) -> tuple[int, int] | None:
    """The offsets of the display's opening and closing bracket in `text`."""
    opening, closing, _ = _BRACKETS[type(display)]
    start = locate(display.lineno, display.col_offset)
    end = locate(display.end_lineno or display.lineno, display.end_col_offset or 0) - 1
    return (start, end) if text[start : start + 1] == opening and text[end : end + 1] == closing else None


def _display(
    display: ast.List | ast.Dict, span: tuple[int, int], text: str, locate: _Locator, piece_size: int,
) -> cst.List | cst.Dict | None:
    """The display at `span` in `text`, parsed as runs of elements of about `piece_size` characters (an element
    larger than that alone, and when it is itself a list or dict literal, in parts again) and put together:
    the blanks after a run's last comma, which a run's parse gives to its closing bracket, go back to the comma.
    None where no cut is possible or a part does not come out as expected."""
    opening, closing, right = _BRACKETS[type(display)]
    entries = _elements(display)
    spans = [_span(entry, locate) for entry in entries]
    cuts, last = [], span[0]
    for index in range(1, len(spans)):
        before, after = spans[index - 1], spans[index]
        if before is None or after is None or not _BETWEEN.fullmatch(text, before[1], after[0]):
            continue
        if after[0] - last >= piece_size or after[1] - after[0] >= piece_size:
            cuts.append(after[0])
            last = after[0]
    if not cuts:
        return None
    bounds = [span[0], *cuts, span[1] + 1]
    parts, elements = [], []
    for index, (begin, end) in enumerate(itertools.pairwise(bounds)):
        prefix, suffix = (opening if index else ""), (closing if index < len(cuts) else "")
        inside = [entry for entry, at in zip(entries, spans) if at and begin <= at[0] < end]
        part = _part(prefix, suffix, begin, end, inside, text, locate, piece_size)
        if not isinstance(part, (cst.List, cst.Dict)) or part.lpar:
            return None
        found = list(part.elements)
        if suffix:
            comma = found[-1].comma
            after = _together(comma.whitespace_after, getattr(part, right).whitespace_before) \
                if isinstance(comma, cst.Comma) else None
            if after is None:
                return None
            found[-1] = found[-1].with_changes(comma=comma.with_changes(whitespace_after=after))
        parts.append(part)
        elements.extend(found)
    return parts[0].with_changes(elements=elements, **{right: getattr(parts[-1], right)})


def _part(
    prefix: str, suffix: str, begin: int, end: int, inside: list[tuple[ast.expr | None, ast.expr]], text: str,
    locate: _Locator, piece_size: int,
) -> cst.BaseExpression | None:
    """One run of a display's elements, as a display of its own (`prefix` and `suffix` supply the brackets)."""
    value = inside[0][1] if len(inside) == 1 else None
    span = _display_span(value, text, locate) if isinstance(value, (ast.List, ast.Dict)) else None
    if value is None or span is None or span[1] - span[0] < piece_size:
        return cst.parse_expression(prefix + text[begin:end] + suffix)
    inner = _display(value, span, text, locate, piece_size)  # type: ignore[arg-type]
    if inner is None:
        return cst.parse_expression(prefix + text[begin:end] + suffix)
    part = cst.parse_expression(prefix + text[begin : span[0] + 1] + text[span[1] : end] + suffix)
    if not isinstance(part, (cst.List, cst.Dict)) or len(part.elements) != 1:
        return None
    element = part.elements[0]
    if not _empty_like(getattr(element, "value", None), inner):
        return None
    return part.with_changes(elements=[element.with_changes(value=inner)])


def _empty_like(node: object, full: cst.List | cst.Dict) -> bool:
    """Whether `node` is the empty display a skeleton holds where `full` goes."""
    return type(node) is type(full) and not node.elements  # type: ignore[union-attr]


def _elements(display: ast.List | ast.Dict) -> list[tuple[ast.expr | None, ast.expr]]:
    if isinstance(display, ast.Dict):
        return list(zip(display.keys, display.values))
    return [(element, element) for element in display.elts]


def _span(element: tuple[ast.expr | None, ast.expr], locate: _Locator) -> tuple[int, int] | None:
    """Where an element (a dict entry: from its key to its value) starts and ends; None for `**mapping`."""
    first, last = element
    if first is None:
        return None
    return locate(first.lineno, first.col_offset), locate(last.end_lineno or last.lineno, last.end_col_offset or 0)


def _together(
    first: cst.BaseParenthesizableWhitespace, second: cst.BaseParenthesizableWhitespace,
) -> cst.BaseParenthesizableWhitespace | None:
    """The one of two stretches of blanks that is not empty (both, when both are: None)."""
    if first.empty:
        return second
    return first if second.empty else None


_LINE_END = re.compile(r"\r\n?|\n")  # Python's, not str.splitlines's (which also ends lines at \f, \x1c, ...)


def _line_starts(text: str) -> list[int]:
    return [0, *(found.end() for found in _LINE_END.finditer(text))]


class _Locator:
    """Offsets in a piece's text from Python's AST positions (file lines, UTF-8 byte columns)."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text, self.ascii = text, text.isascii()
        self.starts = [*_line_starts(text), len(text)]
        self.first_line = first_line

    def __call__(self, line: int, byte_column: int) -> int:
        start = self.starts[line - self.first_line]
        if self.ascii:
            return start + byte_column
        text = self.text[start : self.starts[line - self.first_line + 1]]
        return start + len(text.encode("utf-8", "surrogatepass")[:byte_column].decode("utf-8", "replace"))


def _joined(modules: list[cst.Module]) -> cst.Module:
    body: list[cst.BaseStatement] = []
    carried: tuple[cst.EmptyLine, ...] = ()  # the previous piece's footer: lines before this piece's statement
    for module in modules:
        statements = list(module.body)
        if carried:
            first = statements[0]
            statements[0] = first.with_changes(leading_lines=[*carried, *first.leading_lines])
        body.extend(statements)
        carried = tuple(module.footer)
    first, last = modules[0], modules[-1]
    return first.with_changes(body=body, footer=last.footer, has_trailing_newline=last.has_trailing_newline)
