"""The cache of compiled dataclass methods (featlint/startup/dataclass_code.py) and the entry point that uses it."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from featlint.startup import dataclass_code
from featlint.startup.dataclass_code import cache_directory, cache_file, compiled_dataclass_methods

from .conftest import REPO

# Imports libcst in a fresh interpreter the way featlint does, then reports how many methods it compiled and
# whether the classes behave (equality, repr, defaults, immutability are all generated methods).
_IMPORT_LIBCST = (
    "import dataclasses, json, sys\n"
    "from featlint.startup.dataclass_code import compiled_dataclass_methods\n"
    "from featlint.startup.deferred import cst\n"
    "with compiled_dataclass_methods() as compiled:\n"
    "    name = cst.Name('model')\n"
    "new = compiled.compiled\n"
    "module = cst.parse_module('model.fc = head\\n')\n"
    "try:\n"
    "    name.value = 'other'\n"
    "    frozen = False\n"
    "except dataclasses.FrozenInstanceError:\n"
    "    frozen = True\n"
    "print(json.dumps({'compiled': new, 'equal': name.deep_equals(cst.Name('model')), 'repr': repr(name)[:23],\n"
    "                  'code': module.code, 'frozen': frozen, 'patched': 'exec' in vars(dataclasses)}))\n"
)


def _import_libcst(cache_home: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache_home)}
    done = subprocess.run([sys.executable, "-c", _IMPORT_LIBCST], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _stored(cache_home: Path) -> Path:
    return cache_file(cache_home / "featlint")


def test_the_second_import_compiles_nothing_and_the_classes_behave_the_same(tmp_path: Path) -> None:
    first = _import_libcst(tmp_path)
    assert isinstance(first["compiled"], int) and first["compiled"] > 100  # ~620 methods, or ~130 classes from 3.13 on
    assert _stored(tmp_path).is_file()
    second = _import_libcst(tmp_path)
    assert second["compiled"] == 0
    for result in (first, second):
        assert result["equal"] and result["frozen"] and not result["patched"]
        assert result["repr"] == "Name(\n    value='model'"
        assert result["code"] == "model.fc = head\n"


@pytest.mark.parametrize("content", [b"", b"not marshal data", marshal.dumps([1, 2, 3]),
                                     marshal.dumps({b"key": "not code", "key": compile("1", "x", "eval")})])
def test_a_corrupt_or_foreign_file_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    path = _stored(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert _import_libcst(tmp_path)["compiled"] > 100
    assert _import_libcst(tmp_path)["compiled"] == 0


def test_an_unwritable_directory_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "featlint").write_text("a file where the directory should be")
    assert _import_libcst(tmp_path)["compiled"] > 100


def test_code_is_found_by_its_source_and_dataclass_is_restored(tmp_path: Path) -> None:
    def define(default: int) -> type:
        with compiled_dataclass_methods(tmp_path):
            @dataclasses.dataclass(frozen=True)
            class Point:
                x: int
                y: int = default
        return Point

    first = define(0)
    stored = dataclass_code._read(cache_file(tmp_path))
    dataclass_code._compiled.clear()  # as a new process would start
    second = define(5)
    assert dataclass_code._read(cache_file(tmp_path)).keys() == stored.keys()  # nothing new to compile
    assert first(1) == first(1, 0) and repr(first(1)).endswith(".Point(x=1, y=0)")
    assert second(1) == second(1, 5) and second(1).y == 5
    assert "exec" not in vars(dataclasses)


def test_a_file_grown_by_upgrades_starts_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclass_code, "MAX_ENTRIES", 1)
    old = {bytes([n]) * 16: compile(str(n), "<string>", "exec") for n in range(3)}
    cache_file(tmp_path).write_bytes(marshal.dumps(old))
    dataclass_code._compiled.clear()
    with compiled_dataclass_methods(tmp_path):
        @dataclasses.dataclass
        class Fresh:
            value: int
    kept = dataclass_code._read(cache_file(tmp_path))
    assert kept and not kept.keys() & old.keys()


def test_cache_directory_follows_xdg_and_the_home_directory() -> None:
    assert cache_directory({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/featlint")
    assert cache_directory({}) == Path(os.path.expanduser("~")) / ".cache" / "featlint"


def test_the_entry_point_ends_the_process_with_the_status_and_all_output(tmp_path: Path) -> None:
    """The launcher ends the process without Python's clean-up: nothing written may be lost, and the exit status
    must be the command's."""
    for n in range(30):
        (tmp_path / f"train_{n}.py").write_text("import torch\nmodel.fc.require_grad = False\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "featlint", "--output-format", "json", "--no-cache", "."],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert len(json.loads(done.stdout)) == 30
    clean = subprocess.run([sys.executable, "-m", "featlint", "--no-cache", "--select", "FL801", "."],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
