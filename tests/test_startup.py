"""Commands that never parse a file never load libcst (featlint/startup/deferred.py): it is most of their start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

# Runs the CLI in a fresh interpreter, then reports whether libcst's node classes were ever imported.
_PROBE = (
    "import sys\n"
    "from featlint.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('LIBCST LOADED' if 'libcst._nodes.expression' in sys.modules else 'LIBCST DEFERRED')\n"
)


def _libcst_loaded(*args: str, cwd: Path = REPO) -> bool:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO)})
    assert "LIBCST" in done.stderr, done.stderr
    return "LIBCST LOADED" in done.stderr


@pytest.mark.parametrize("args", [["--version"], ["rules"], ["rules", "--output-format", "json"],
                                  ["explain", "FL201"]])
def test_commands_that_parse_nothing_do_not_load_libcst(args: list[str]) -> None:
    assert not _libcst_loaded(*args)


def test_a_file_no_rule_can_report_on_is_not_parsed_with_libcst(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    assert not _libcst_loaded("check", "plain.py", "--no-cache", cwd=tmp_path)


def test_a_run_answered_from_the_cache_does_not_load_libcst(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import torch\nmodel.fc.require_grad = False\n")
    assert _libcst_loaded("check", "train.py", cwd=tmp_path)  # the first run parses and fills the cache
    assert not _libcst_loaded("check", "train.py", cwd=tmp_path)


def test_every_module_can_be_imported_first() -> None:
    """A rule's test or a user's script may import any module first; an import cycle shows only then."""
    script = (
        "import importlib, pkgutil, sys, featlint\n"
        "OPTIONAL = {'torch', 'torchvision', 'pygls', 'lsprotocol'}\n"
        "names = [m.name for m in pkgutil.walk_packages(featlint.__path__, 'featlint.')]\n"
        "failed = []\n"
        "for name in names:\n"
        "    for loaded in [m for m in sys.modules if m == 'featlint' or m.startswith('featlint.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as error:\n"
        "        if getattr(error, 'name', None) and error.name.partition('.')[0] in OPTIONAL:\n"
        "            continue  # the runtime checker and the language server need their extras\n"
        "        failed.append(f'{name}: {error}')\n"
        "print(len(names))\n"
        "assert not failed, failed\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout) > 50


@pytest.mark.parametrize(
    "start",
    [
        # The command: its entry point raises the thresholds before the command runs.
        "import featlint.cli, featlint.startup.launcher as launcher\n"
        "featlint.cli.main = lambda argv: print(gc.get_threshold())\n"
        "launcher.main([])",
        # A spawned worker, which never runs the entry point.
        "from featlint.running import parallel\nparallel._start_worker()\nprint(gc.get_threshold())",
    ],
    ids=["command", "worker"],
)
def test_the_processes_that_lint_collect_garbage_less_often(start: str) -> None:
    from featlint.startup.collector import THRESHOLDS

    done = subprocess.run([sys.executable, "-c", "import gc\n" + start], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == str(THRESHOLDS), done.stderr


def test_programs_calling_featlint_keep_their_own_garbage_collection() -> None:
    code = "import gc\nbefore = gc.get_threshold()\nimport featlint\nfeatlint.lint_source('x = 1\\n')\n" \
           "print(gc.get_threshold() == before)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "True", done.stderr
