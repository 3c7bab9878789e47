"""Projects split over modules (fixtures/projects/<name>/): each module, linted alone as pre-commit passes it,
reports exactly the findings marked in it (`# expect: FL202`), where the other half of the bug lives in a
module it imports (a package re-exporting its builders, relative and absolute imports, two modules importing
each other). Each buggy project has a clean twin with no marker. Also: how imports find files, the budgets,
and the result cache noticing a changed helper module."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from featlint import lint_source
from featlint.analysis import FileAnalysis
from featlint.analysis.project import MAX_FILE_BYTES, MAX_MODULES, Project
from featlint.config import Overrides, SettingsResolver
from featlint.reading.project import project_root, split_target
from featlint.rules import ALL_RULES
from featlint.running.cache import Cache
from featlint.running.engine import check_file
from featlint.running.parallel import Task, lint_files
from featlint.running.session import run
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


def _cached_codes(directory: Path) -> Callable[[], list[str]]:
    """A `train.py` in `directory` that freezes through `helpers.freeze`, and a function linting it through a
    result cache, returning the codes found."""
    (directory / "pyproject.toml").write_text("")
    entry = directory / "train.py"
    entry.write_text(
        "import numpy as np\nimport torch\nfrom torchvision import models\nfrom helpers import freeze\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    cache = Cache(directory / "cache")
    task = [Task(entry, "train.py", [rule() for rule in ALL_RULES])]
    return lambda: [d.code for r in lint_files(task, cache=cache) for d in r.diagnostics]


def test_a_cached_result_is_stale_once_an_imported_module_changes(tmp_path: Path) -> None:
    helper = tmp_path / "helpers.py"
    helper.write_text("def freeze(model):\n    model.requires_grad_(True)\n")
    codes = _cached_codes(tmp_path)
    assert "FL203" not in codes()
    helper.write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    assert "FL203" in codes()


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


def test_a_module_is_parsed_only_for_a_name_it_defines(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "helpers.py").write_text("import torch\nSIZE = 3\n\n\ndef freeze(model):\n    model.requires_grad_(False)\n")
    project = Project(tmp_path / "train.py")
    assert project.target("helpers.SIZE", None) is None and project.target("helpers.missing", None) is None
    assert not project.units and str((tmp_path / "helpers.py").resolve()) in project.digests()
    assert project.target("helpers.freeze", None) is not None and len(project.units) == 1


def test_a_module_too_large_to_follow_is_still_tracked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    large = tmp_path / "generated.py"
    padding = "# " + "x" * 78 + "\n"
    large.write_text("import torch\n\n\ndef freeze(model):\n    model.requires_grad_(False)\n" + padding * 900)
    assert large.stat().st_size > MAX_FILE_BYTES
    project = Project(tmp_path / "train.py")
    assert project.target("generated.freeze", None) is None  # a call into it is an escape
    assert str(large.resolve()) in project.digests()  # but an edit (one that shrinks it, say) makes results stale


def test_configured_src_roots_find_the_project_packages(tmp_path: Path) -> None:
    (tmp_path / "libs" / "toolkit").mkdir(parents=True)
    (tmp_path / "libs" / "toolkit" / "__init__.py").write_text("")
    (tmp_path / "libs" / "toolkit" / "freezing.py").write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    (tmp_path / "scripts").mkdir()
    entry = tmp_path / "scripts" / "train.py"
    entry.write_text(
        "import torch\nfrom torchvision import models\nfrom toolkit.freezing import freeze\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.featlint]\nselect = ['FL203']\n")
    cache = Cache(tmp_path / "cache")
    assert not run([entry], SettingsResolver(Overrides(), cwd=tmp_path), cache=cache).diagnostics
    config.write_text("[tool.featlint]\nselect = ['FL203']\nsrc = ['libs']\n")
    resolver = SettingsResolver(Overrides(), cwd=tmp_path)
    assert resolver.for_file(entry).src == ((tmp_path / "libs").resolve(),)
    found = run([entry], resolver, cache=cache).diagnostics  # the new roots are part of the cache key
    assert [(d.start.row, d.code) for d in found] == [(6, "FL203")] and "libs/toolkit/freezing.py:2" in found[0].message


def test_a_cached_result_is_stale_once_a_missing_module_is_created(tmp_path: Path) -> None:
    codes = _cached_codes(tmp_path)
    assert "FL203" not in codes()
    (tmp_path / "helpers.py").write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    assert "FL203" in codes()


def test_imports_of_the_standard_library_record_no_missing_module(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    project = Project(tmp_path / "train.py")
    assert project.target("collections.OrderedDict", None) is None
    assert project.target("helpers.freeze", None) is None
    assert sorted(project.digests()) == [str((tmp_path / "helpers.py").resolve()),
                                         str((tmp_path / "helpers" / "__init__.py").resolve()),
                                         str((tmp_path / "src" / "helpers.py").resolve()),
                                         str((tmp_path / "src" / "helpers" / "__init__.py").resolve())]


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
