from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from featlint import lint_source
from featlint.running import engine
from featlint.diagnostics import Diagnostic
from featlint.rules.base import Rule
from featlint.rules.fl101_requires_grad_typo import RequiresGradTypo

from .conftest import REPO


def test_syntax_error_is_fl001_at_the_parsers_position() -> None:
    [found] = lint_source("x = 1\ndef f(:\n    pass\n")
    assert found.code == "FL001"
    assert (found.start.row, found.start.column) == (2, 7)
    assert "SyntaxError" in found.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x = 1\n\x00\x01\x02", "Binary file"),
        (b"x = '\xff\xfe'\n", "Not valid UTF-8"),
        (b"# -*- coding: klingon -*-\nx = 1\n", "encoding"),
    ],
)
def test_undecodable_bytes_are_fl001(data: bytes, words: str) -> None:
    [found] = lint_source(data)
    assert found.code == "FL001" and words in found.message


def test_pep263_declaration_is_respected() -> None:
    source = "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\np.require_grad = False\n".encode("latin-1")
    assert [d.code for d in lint_source(source)] == ["FL101"]


def test_utf8_bom_is_accepted() -> None:
    assert [d.code for d in lint_source(b"\xef\xbb\xbfp.require_grad = False\n")] == ["FL101"]


class _Exploding(Rule):
    """Fails on every file."""

    code = "FL999"
    name = "exploding"
    summary = "test double"

    def check(self, ctx) -> Iterator[Diagnostic]:
        raise ValueError("boom")


def test_a_crashing_rule_is_an_internal_error_and_the_other_rules_still_report() -> None:
    result = engine.check_text("p.require_grad = False\n", "t.py", [_Exploding(), RequiresGradTypo()])
    assert [d.code for d in result.diagnostics] == ["FL101"]
    assert [(e.path, e.code) for e in result.errors] == [("t.py", "FL999")]
    assert "boom" in str(result.errors[0])


def test_static_core_never_imports_torch() -> None:
    script = (
        "import sys\n"
        "from featlint import lint_paths\n"
        f"lint_paths([{str(REPO / 'fixtures')!r}], select=['ALL'])\n"
        "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env={"PYTHONPATH": str(REPO)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_findings_are_sorted_and_positions_are_one_based() -> None:
    found = lint_source("b.require_grad = 1\na.require_grad = 1\n")
    assert [(d.start.row, d.start.column, d.end.column) for d in found] == [(1, 1, 15), (2, 1, 15)]


def test_match_statements_crash_no_rule() -> None:
    source = (
        "import torch, torchvision\nm = torchvision.models.resnet18()\nmatch mode:\n    case 'probe':\n"
        "        m.fc = torch.nn.Linear(512, 2)\n        m.classifier[0] = torch.nn.Identity()\n    case _:\n"
        "        opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
    )
    result = engine.check_text(source, "match.py", engine._rules(["ALL"]))
    assert result.errors == []


def test_clean_files_never_pay_for_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions cost more than the parse: a rule must not ask for a line number unless it reports."""
    import featlint.positions

    def refuse(self: object, module: object) -> None:
        raise AssertionError("positions computed for a file without findings")

    monkeypatch.setattr(featlint.positions.Positions, "__init__", refuse)
    clean = sorted((REPO / "fixtures").rglob("*clean*.py"))
    assert clean
    for path in clean:
        result = engine.check_text(path.read_text(encoding="utf-8"), str(path), engine._rules(None))
        assert result.errors == [] and result.diagnostics == [], path
