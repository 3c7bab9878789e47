"""Deeply nested input: refuse it with a clear FL001 before libcst sees it, and give the accepted depths the
recursion they need.

libcst's parser takes time that grows with the cube of an expression's nesting (1,500 chained subscripts take
~20 s, 5,000 chained additions ~90 s), and libcst's visitors, code generation and position metadata, like
featlint's own analysis, recurse once per level, several Python frames each. So a file nested deeper than
`MAX_DEPTH` (Python's own limit on nested brackets) is reported as FL001 without being parsed, and the files
below it are linted under a recursion limit high enough for that depth. The depth is measured on Python's own
AST, which its C parser builds in a tenth of libcst's time.
"""

from __future__ import annotations

import ast
import contextlib
import sys
import threading
import warnings
from collections.abc import Iterator

from featlint.reading.source import UnreadableSource

MAX_DEPTH = 200  # AST levels; CPython's tokenizer also refuses more than 200 nested brackets
# libcst's visitor costs up to ~7 frames per CST level and a CST level can be two AST levels (`Arg`, `Element`).
RECURSION_LIMIT = 10_000

_lock = threading.Lock()
_holders = 0
_saved_limit = 0


def too_deeply_nested(depth: int | None = None) -> UnreadableSource:
    """FL001's account of a file nested deeper than featlint can follow (`depth` when it was measured)."""
    measured = f" (at least {depth})" if depth is not None else ""
    return UnreadableSource(
        f"The file nests expressions or statements more than {MAX_DEPTH} levels deep{measured}, "
        "more than featlint can analyse: nothing in it was checked"
    )


def check_depth(text: str) -> ast.Module | None:
    """Raise UnreadableSource when `text` is nested deeper than MAX_DEPTH. Syntax errors other than too much
    nesting are left to the caller's parser (libcst accepts syntax newer than the running Python). Returns the
    tree it measured (None where Python could not parse the file), which piecewise parsing needs too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like are not featlint's to report
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            if "too many nested parentheses" in (error.msg or ""):
                raise UnreadableSource(f"SyntaxError: {error.msg}", error.lineno or 1, error.offset or 1) from None
            return None
        except (RecursionError, MemoryError):  # CPython's own parser gave up: far deeper than MAX_DEPTH
            raise too_deeply_nested() from None
        except ValueError:
            return None
    depth = _deepest(tree)
    if depth > MAX_DEPTH:
        raise too_deeply_nested(depth)
    return tree


def _deepest(tree: ast.AST) -> int:
    """The nesting depth of `tree` once it exceeds MAX_DEPTH, else at most MAX_DEPTH. A node spans at least one
    character per level below it, so a one-line node too short to reach the limit is not walked: most of a file
    is skipped and the walk costs a fraction of the parse."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        end_line = getattr(node, "end_lineno", None)
        if end_line is not None and end_line == node.lineno:  # type: ignore[attr-defined]
            if depth + node.end_col_offset - node.col_offset <= MAX_DEPTH:  # type: ignore[attr-defined]
                continue
        # libcst nests `a and b and c` one level per operand where Python's AST keeps one flat node.
        below = depth + (len(node.values) if isinstance(node, ast.BoolOp) else 1)
        stack.extend((child, below) for child in ast.iter_child_nodes(node))
    return deepest


@contextlib.contextmanager
def deep_recursion() -> Iterator[None]:
    """Raise the interpreter's recursion limit to RECURSION_LIMIT while any thread lints (the LSP server lints
    in threads), and put back the user's limit when the last one is done; never lower it."""
    global _holders, _saved_limit
    with _lock:
        if _holders == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, RECURSION_LIMIT))
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                sys.setrecursionlimit(_saved_limit)
