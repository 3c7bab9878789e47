"""The model-story and model-hub fixtures, linted with the exact findings marked in them (`# expect: FL201 FL502`).

Each buggy fixture marks every finding on the line it is reported at; its clean twin marks none, so any
finding there is a false alarm. Covers the module-level script, functions, a model inside the user's own
nn.Module, the training loop in a function, an argparse-driven script, and the shapes of real code: decided and
undecided branches, the fine-tuning tutorial's helpers, optimizer lifetimes, parameter lists filled in
branches, the user's own classes and heads, other ways of getting a model, a DataParallel wrapper in a branch.
The hub fixtures cover PEFT adapters, Hugging Face fine-tuning and timm (FL9xx, and FL102/FL302/FL601 on
those models).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from featlint import lint_source
from tests.conftest import REPO

STORY = REPO / "fixtures" / "story"
HUBS = REPO / "fixtures" / "hubs"
_EXPECT = re.compile(r"#\s*expect:\s*((?:FL\d{3}\s*)+)")


def _expected(source: str) -> list[tuple[int, str]]:
    found = []
    for row, line in enumerate(source.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            found.extend((row, code) for code in match.group(1).split())
    return sorted(found)


@pytest.mark.parametrize("path", sorted([*STORY.glob("*.py"), *HUBS.glob("*.py")]), ids=lambda p: p.name)
def test_fixture_findings_are_exactly_the_marked_ones(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = sorted((d.start.row, d.code) for d in lint_source(source, path=str(path)))
    assert found == _expected(source)


@pytest.mark.parametrize(("folder", "twins"), [(STORY, 5), (HUBS, 2)], ids=["story", "hubs"])
def test_every_clean_fixture_has_a_buggy_twin(folder: Path, twins: int) -> None:
    buggy = {p.name.replace("_buggy", "") for p in folder.glob("*_buggy.py")}
    clean = {p.name.replace("_clean", "") for p in folder.glob("*_clean.py")}
    assert buggy == clean and len(buggy) >= twins
    for name in clean:
        assert _expected((folder / name.replace(".py", "_clean.py")).read_text()) == []
