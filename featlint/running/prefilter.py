"""Skip the parse of files that no selected rule can report on.

Parsing with libcst and building the shared analysis are almost all of featlint's time, and most files of a
large tree contain nothing a transfer-learning rule looks at. Each rule says, with `Rule.requires_tokens` or
`Rule.may_fire`, which text any of its findings needs; a file that passes no selected rule's test is not
parsed. FL001 still has to see syntax errors in such a file, so it gets Python's own parser (about a third of
libcst's cost): when that parser fails, the file takes the ordinary path and libcst reports it as before.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Sequence

from featlint.rules.base import Rule


def may_fire(source: str, rules: Sequence[Rule]) -> bool:
    """True when some rule in `rules` could report something in `source` (the engine parses the file)."""
    return any(rule.may_fire(source) for rule in rules)


def able_to_fire(source: str, rules: Sequence[Rule]) -> list[Rule]:
    """The rules that could report something in `source`. A parsed file runs only these: a rule that cannot
    fire would still build the analyses it reads (the story, the hub objects) for nothing."""
    return [rule for rule in rules if rule.may_fire(source)]


def python_parses(source: str) -> bool:
    """Whether Python accepts the file's syntax. libcst rejects (almost) nothing that Python accepts, so a
    file that passes here would not have become FL001 either; tests/test_prefilter.py checks it on the corpus."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like are not featlint's to report
        try:
            compile(source, "<prefilter>", "exec", ast.PyCF_ONLY_AST)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True
