"""Piecewise parsing (featlint/reading/piecewise.py) must build the very tree libcst builds for the whole file.

Small piece sizes make ordinary files cut in many places, so the hard cases are met without megabytes of
input. Every large file of torch and torchvision at the real sizes is benchmarks/bench_piecewise.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from featlint.reading import piecewise
from featlint.startup.deferred import cst
from featlint.running.engine import check_text
from featlint.rules import ALL_RULES

REPO = Path(__file__).resolve().parents[1]
EVERY_RULE = [rule() for rule in ALL_RULES]

HARD = '''#!/usr/bin/env python
"""A module docstring."""
from __future__ import annotations
import os  # a trailing comment

# a comment between statements


@decorator(1)
# a comment between decorators
@other
def first(a,
          b):
    return {"x": [1, 2]}
    # an indented comment after the body

# a comment at the top level after it
x = 1; y = [2,
            3]
TABLE = {
    # before the first entry
    "a": [1, 2, 3],  # after an entry
    "b": (4, 5),
    **defaults,
    "c": {"x": 1,
          "y": 2, "z": [1, 2,
          3, 4]},

    # after a blank line
    "d": f(a,
           b),
    "e": {
       (1, 2): (3, 4),
       (5, 6): [7, 8],  # q
    },
    "\u00e9": '\u00fc\u00e9\u00e8', "f": ("g"),
    "h": [  # opening comment
        1
        ,
        2],
}
OPS: list[int] = [
    1,
    (2),
    (3
    ),
    [1, 2, 3, [4, 5, 6]],
    *rest, 4,
    lambda v: (v,
               v),
    5
]  # done
[a for a in range(3)]
{"an expression statement": [1, 2, 3], "b": 4}
class Model:
    layers = [1, 2,
              3]

    def forward(self, x):
        return x
if True:
    pass
else:
    z = {1: 2,
         3: 4}
# the end'''


def _variants(text: str) -> Iterator[str]:
    yield text
    yield text + "\n"
    yield text.replace("\n", "\r\n") + "\r\n"
    yield text.replace("    ", "  ") + "\n"
    yield text.replace("    ", "\t") + "\n"


def _assert_same_tree(text: str, piece_size: int) -> None:
    whole = cst.parse_module(text)
    pieces = piecewise.parse_module(text, piecewise_from=0, piece_size=piece_size)
    assert pieces.code == text
    assert whole.deep_equals(pieces), piece_size


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every text given to libcst's parser from now on."""
    sizes: list[int] = []
    for name in ("parse_module", "parse_expression"):
        real = getattr(cst, name)

        def spy(source: str, *args: object, _real=real, **kwargs: object) -> object:
            sizes.append(len(source))
            return _real(source, *args, **kwargs)

        monkeypatch.setattr(cst, name, spy)
    return sizes


@pytest.mark.parametrize("piece_size", [1, 2, 5, 12, 40, 100, 400, 100_000])
@pytest.mark.parametrize("variant", range(5))
def test_the_hard_cases_give_the_whole_file_tree(piece_size: int, variant: int) -> None:
    _assert_same_tree(list(_variants(HARD))[variant], piece_size)


def test_the_file_and_its_literals_are_really_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this the tests above would pass on a parse_module that always parsed the whole file."""
    sizes = _parses(monkeypatch)
    piecewise.parse_module(HARD + "\n", piecewise_from=0, piece_size=12)
    assert len(sizes) > 20
    assert max(sizes) < len(HARD) // 4
    sizes.clear()
    piecewise.parse_module(HARD + "\n", piecewise_from=len(HARD) + 2, piece_size=12)
    assert sizes == [len(HARD) + 1]  # a smaller file is parsed whole


def test_a_large_literal_is_parsed_in_runs_of_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"    ({n}, {n + 1}, {n + 2}): [{n}, '{n}'],  # row {n}\n" for n in range(2000))
    text = f"import torch\n\nDATA = {{\n{rows}}}\nNESTED = [\n    {{\n{rows}    }},\n    1,\n]\n"
    sizes = _parses(monkeypatch)
    _assert_same_tree(text, piece_size=4096)
    assert max(sizes[1:]) < 6000  # sizes[0] is the whole-file parse the comparison makes


@pytest.mark.parametrize("text", [
    "x = [1, 2,\n",  # not Python: libcst's own error
    "def f(:\n    pass\n",
])
def test_a_file_python_cannot_parse_fails_as_libcst_fails(text: str) -> None:
    with pytest.raises(cst.ParserSyntaxError):
        piecewise.parse_module(text * 50, piecewise_from=0, piece_size=8)


def _python_files() -> list[Path]:
    files = sorted((REPO / "fixtures").rglob("*.py")) + sorted((REPO / "featlint").rglob("*.py"))
    for package in ("torch", "torchvision"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin:
            files += sorted(Path(spec.origin).parent.rglob("*.py"))[::150]
    return files


@pytest.mark.parametrize("path", _python_files(), ids=lambda path: "/".join(path.parts[-2:]))
def test_real_files_give_the_whole_file_tree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        pytest.skip("not Python (a fixture of a syntax error)")
    _assert_same_tree(text, piece_size=max(64, len(text) // 16))


def test_findings_do_not_depend_on_the_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = sorted((REPO / "fixtures").rglob("*.py"))
    texts = {path: path.read_text(encoding="utf-8") for path in paths}
    whole = {path: check_text(text, str(path), EVERY_RULE).diagnostics for path, text in texts.items()}
    monkeypatch.setattr(piecewise, "PIECEWISE_FROM", 0)
    monkeypatch.setattr(piecewise, "PIECE_SIZE", 64)
    sizes = _parses(monkeypatch)
    cut = {path: check_text(text, str(path), EVERY_RULE).diagnostics for path, text in texts.items()}
    assert cut == whole
    assert any(whole.values()) and len(sizes) > 2 * len(paths)
