"""featlint's own node positions equal libcst's PositionProvider, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from featlint.positions import Positions

from .conftest import REPO

EDGE_CASES = [
    "",
    "x = 1",
    "\n\n# only comments",
    "x = (\r\n  1 +\r\n 2)\r\nif x:\r\n\ty = [a for a in b]  # c\r\n",
    "x = 1\ry = 2\r",
    "@decorator\n# comment\ndef f(a, *, b=2) -> int:\n    '''doc\n    string'''\n    return (a +\n            b)\n",
    "class C(Base, metaclass=M):\n    x: int = 1\n\n    async def m(self):\n        async with a as b:\n            await c\n",
    "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'k': v}:\n        pass\n",
    "s = f'{a!r:>{width}}' + 'x' \\\n    'y'\n",
    "lambda: (yield)\nx = [*a, *b]\nd = {**e}\n\x0cz = 1\n",
]


def _assert_same(source: str) -> None:
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    ours = Positions(module)
    for node, position in expected.items():
        start, end = ours.span(node)
        assert (start, end) == (
            (position.start.line, position.start.column), (position.end.line, position.end.column)
        ), (type(node).__name__, module.code_for_node(node)[:40])


@pytest.mark.parametrize("source", EDGE_CASES)
def test_edge_cases(source: str) -> None:
    _assert_same(source)


@pytest.mark.parametrize(
    "path", sorted((REPO / "fixtures").rglob("*.py")) + sorted((REPO / "featlint").rglob("*.py"))[:20],
    ids=lambda p: str(Path(p).relative_to(REPO)),
)
def test_repository_files(path: Path) -> None:
    _assert_same(path.read_text(encoding="utf-8"))
