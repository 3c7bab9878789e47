"""Projects split over modules (fixtures/projects/<name>/): each module, linted alone as pre-commit passes it,
reports exactly the findings marked in it (`# expect: FL202`), where the other half of the bug lives in a
module it imports (a package re-exporting its builders, relative and absolute imports, two modules importing
each other). Each buggy project has a clean twin with no marker. Also: how imports find files, the budgets,
and the result cache noticing a changed helper module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featlint import lint_source
from featlint.analysis import FileAnalysis
from featlint.analysis.project import MAX_MODULES, Project
from featlint.reading.project import project_root, split_target
from featlint.rules import ALL_RULES
from featlint.running.cache import Cache
from featlint.running.engine import check_file
from featlint.running.parallel import Task, lint_files
from featlint.startup.deferred import cst
from tests.conftest import REPO
from tests.test_story_fixtures import _expected

PROJECTS = REPO / "fixtures" / "projects"
ENTRIES = sorted(PROJECTS.rglob("*.py"))  # every module, each linted alone


def _found(path: Path, *, alone: bool = False) -> list[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    shown = "<string>" if alone else str(path)
    return sorted((d.start.row, d.code) for d in lint_source(source, path=shown, select=["ALL"]))


@pytest.mark.parametrize("path", ENTRIES, ids=lambda p: p.relative_to(PROJECTS).as_posix())
def test_entry_files_report_exactly_the_marked_findings(path: Path) -> None:
    assert _found(path) == _expected(path.read_text(encoding="utf-8"))


def test_every_project_has_a_clean_twin_and_the_buggy_ones_need_their_imports() -> None:
    buggy = {p.name.removesuffix("_buggy") for p in PROJECTS.glob("*_buggy")}
    clean = {p.name.removesuffix("_clean") for p in PROJECTS.glob("*_clean")}
    assert buggy == clean and len(buggy) >= 2
    for name in clean:
        assert all(not _expected(p.read_text()) for p in (PROJECTS / f"{name}_clean").glob("*.py"))
    marked = [p for p in ENTRIES if _expected(p.read_text())]
    assert len(marked) >= 4
    for path in marked:  # without the project's modules, none of these findings is seen
        assert not set(_found(path, alone=True)) & set(_expected(path.read_text()))


def test_messages_cite_the_other_module_by_its_path_in_the_project() -> None:
    path = PROJECTS / "split_buggy" / "train.py"
    messages = [d.message for d in lint_source(path.read_text(), path=str(path), select=["FL202"])]
    assert len(messages) == 1 and "frozen on models/backbone.py:15" in messages[0]


def test_imports_find_modules_packages_and_relative_names() -> None:
    root = PROJECTS / "split_buggy"
    assert project_root(root / "models" / "backbone.py") == root
    models = root / "models"
    assert split_target(root / "train.py", root, "models.build_model") == (models / "__init__.py", ["build_model"])
    assert split_target(root / "train.py", root, "models.heads.attach_head") == (models / "heads.py", ["attach_head"])
    assert split_target(root / "models" / "__init__.py", root, ".backbone.build_model") == (
        root / "models" / "backbone.py", ["build_model"]
    )
    assert split_target(root / "train.py", root, "torch.optim.SGD") is None
    assert split_target(root / "models" / "heads.py", root, "..engine.train_one_epoch") == (
        root / "engine.py", ["train_one_epoch"]
    )


def _chain(directory: Path, length: int) -> Path:
    """`m0.py` ... each calling the next module's `freeze`: longer than any budget."""
    (directory / "pyproject.toml").write_text("")
    for index in range(length):
        body = (
            f"from m{index + 1} import freeze as deeper\n\n\ndef freeze(model):\n"
            "    model.fc.requires_grad_(False)\n    deeper(model)\n"
        )
        (directory / f"m{index}.py").write_text(body)
    entry = directory / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom m0 import freeze\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\nfrom m1 import freeze as f1\nf1(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    return entry


def test_chains_and_cycles_stay_within_the_budgets(tmp_path: Path) -> None:
    entry = _chain(tmp_path, 30)
    (tmp_path / "m29.py").write_text("from train import opt\n\n\ndef freeze(model):\n    model.requires_grad_(False)\n")
    analysis = FileAnalysis(cst.parse_module(entry.read_text()), str(entry))
    assert analysis.story is not None
    project = analysis.project
    assert isinstance(project, Project)
    assert 0 < len(project.units) <= MAX_MODULES
    assert max(level for _, level in project.units.values()) <= 2
    assert project.target("m0.freeze", None) is not None


def test_a_cached_result_is_stale_once_an_imported_module_changes(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    helper = tmp_path / "helpers.py"
    helper.write_text("def freeze(model):\n    model.requires_grad_(True)\n")
    entry = tmp_path / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom helpers import freeze\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    rules = [rule() for rule in ALL_RULES]
    cache = Cache(tmp_path / "cache")
    task = [Task(entry, "train.py", rules)]
    assert "FL203" not in [d.code for r in lint_files(task, cache=cache) for d in r.diagnostics]
    helper.write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    assert "FL203" in [d.code for r in lint_files(task, cache=cache) for d in r.diagnostics]


def test_a_script_inside_a_package_follows_its_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "app"
    (package / "tools").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "tools" / "__init__.py").write_text("from .freezing import freeze_all as freeze\n")
    (package / "tools" / "freezing.py").write_text(
        "def freeze_all(model):\n    for p in model.parameters():\n        p.requires_grad = False\n"
    )
    entry = package / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom . import tools\n"
        "model = models.resnet18(weights='DEFAULT')\ntools.freeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    found = lint_source(entry.read_text(), path=str(entry), select=["FL203"])
    assert [(d.start.row, d.code) for d in found] == [(6, "FL203")]
    assert "app/tools/freezing.py:3" in found[0].message


def test_a_notebook_follows_the_modules_beside_it(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    cells = [
        "import torch\nfrom torchvision import models\nfrom helpers import freeze",
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\nopt = torch.optim.SGD(model.parameters(), lr=1e-3)",
    ]
    notebook = tmp_path / "explore.ipynb"
    notebook.write_text(json.dumps({
        "cells": [
            {"cell_type": "code", "execution_count": n, "metadata": {}, "outputs": [], "source": source}
            for n, source in enumerate(cells, start=1)
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }))
    found = check_file(notebook, "explore.ipynb", [rule() for rule in ALL_RULES]).diagnostics
    assert [(d.cell, d.start.row, d.code) for d in found if d.code == "FL203"] == [(2, 3, "FL203")]
    assert "helpers.py:2" in next(d.message for d in found if d.code == "FL203")


def test_an_unreadable_or_too_deep_module_is_opaque(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "broken.py").write_text("import torch\ndef freeze(model:\n")
    (tmp_path / "deep.py").write_text("import torch\nX = " + "(" * 5000 + ")" * 5000 + "\ndef freeze(model):\n    pass\n")
    entry = tmp_path / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom broken import freeze\nfrom deep import freeze as f2\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\nf2(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    result = check_file(entry, "train.py", [rule() for rule in ALL_RULES])
    assert not result.errors and not [d for d in result.diagnostics if d.code == "FL001"]


def test_a_helper_importing_the_linted_file_back_is_an_escape(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "helpers.py").write_text(
        "from train import prepare\n\n\ndef freeze(model):\n    model.requires_grad_(False)\n    prepare(model)\n"
    )
    entry = tmp_path / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom helpers import freeze\n\n\n"
        "def prepare(model):\n    model.fc.requires_grad_(True)\n\n\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    analysis = FileAnalysis(cst.parse_module(entry.read_text()), entry)
    kinds = [event.kind.value for event in analysis.story.events]
    assert kinds[:3] == ["build", "freeze", "escape"]  # the call back into train.py is not followed
    result = check_file(entry, "train.py", [rule() for rule in ALL_RULES])
    assert not result.errors and "FL203" not in [d.code for d in result.diagnostics]


def test_a_bug_wholly_inside_an_imported_module_is_reported_there_only(tmp_path: Path) -> None:
    """An unchecked non-strict load in a helper is that helper's finding: a file that merely calls it does not
    report it again (the same bug twice in a project run), while a bug made of both files still is."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "helpers.py").write_text(
        "import torch\n\n\ndef resume(net, path):\n"
        "    net.load_state_dict(torch.load(path), strict=False)\n    return net\n\n\n"
        "def freeze(net):\n    for name, p in net.named_parameters():\n        if not name.startswith('fc.'):\n"
        "            p.requires_grad = False\n"
    )
    train = tmp_path / "train.py"
    train.write_text(
        "import torch, torchvision\nfrom helpers import freeze, resume\n\n"
        "net = torchvision.models.resnet18(weights='DEFAULT')\nresume(net, 'best.pt')\nfreeze(net)\n"
        "opt = torch.optim.SGD(net.parameters(), lr=0.01)\n"
    )
    assert _found(tmp_path / "helpers.py") == [(5, "FL801")]
    found = lint_source(train.read_text(), path=str(train), select=["ALL"])
    assert [(d.start.row, d.code) for d in found] == [(7, "FL202")]
    assert "frozen on helpers.py:12" in found[0].message
