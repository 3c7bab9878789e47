"""Compiled dataclass methods, kept between runs so that importing libcst costs half as much.

Importing libcst defines about 200 dataclasses, and Python's `dataclasses` module writes the source of each
class's `__init__`, `__repr__`, `__eq__`, ... and compiles it (about 600 `compile` calls): around 0.07 s of
libcst's 0.15 s import on our machines, paid again by every `featlint train.py`. The generated source is the
same in every run, so its compiled code objects can be kept like Python keeps a module's bytecode in
`__pycache__`: while libcst is being imported, `dataclasses` finds this module's `exec` before the builtin one;
it looks the source text up by digest and compiles only what it has not seen.

The code is stored with `marshal`, so the file is only valid for the interpreter that wrote it: its name
carries the bytecode magic number and the implementation's cache tag. A digest of the source is the key, so a
different libcst simply misses and compiles (the file is started again once upgrades have grown it far past
what one run uses). A file that cannot be read, is corrupt or holds anything but code objects is ignored;
a directory that cannot be written is not an error (the import just compiles, as Python does without it).
Writes are atomic (featlint/atomic.py), so concurrent runs never see a half-written file.

`dataclasses.exec` is a CPython detail. Python 3.13 builds all of a class's methods in one `exec` (about 130
for libcst instead of 620); the hook sees those the same way and still halves the import: `import libcst`
680 -> 342 ms on 3.13, 570 -> 287 ms on 3.11, 571 -> 315 ms on 3.10 (benchmarks/bench_dataclass_code.py,
medians of 9 on a busy machine; benchmarks/results/dataclass-code-2026-12-01.txt). tests/test_dataclass_code.py,
run on 3.10 and 3.13 by .ci/other-pythons, checks on each that the second import compiles nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import hashlib
import importlib.util
import marshal
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import CodeType
from typing import Any

from featlint.atomic import write_atomically


def cache_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's cache directory (XDG on Linux, where pip and black keep theirs), not the project's
    `.featlint_cache/`: compiled code belongs to the installation, not to a repository."""
    if sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "featlint" / "Cache"
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "featlint"


def cache_file(directory: Path) -> Path:
    tag = sys.implementation.cache_tag or sys.implementation.name
    return directory / f"dataclass-code-{tag}-{importlib.util.MAGIC_NUMBER.hex()}.marshal"


def _digest(source: str) -> bytes:
    return hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _read(path: Path) -> dict[bytes, CodeType]:
    try:
        stored = marshal.loads(path.read_bytes())  # ten times faster than marshal.load on the open file
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(stored, dict):
        return {}
    return {key: code for key, code in stored.items() if isinstance(key, bytes) and isinstance(code, CodeType)}


def _write(path: Path, codes: dict[bytes, CodeType]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, marshal.dumps(codes))
    except OSError:
        pass  # a read-only home or a full disk: the next run compiles again


class _Compiled:
    """The `exec` that `dataclasses` calls while the cache is in use: one per process, so that featlint's own
    modules and libcst, imported at different times, share one read and one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stored = _read(path)
        self.new: dict[bytes, CodeType] = {}  # compiled since the last write
        self.compiled = 0  # in this process

    def __call__(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if isinstance(source, str):
            key = _digest(source)
            code = self.stored.get(key)
            if code is None:
                code = self.stored[key] = self.new[key] = compile(source, "<string>", "exec")
                self.compiled += 1
            source = code
        builtins.exec(source, globals, locals)

    def save(self) -> None:
        """Writes what this process compiled, unless nothing was; a file grown past `MAX_ENTRIES` by upgrades
        is started again with this run's new code."""
        if self.new:
            _write(self.path, self.new if len(self.stored) > MAX_ENTRIES else self.stored)
            self.new = {}


MAX_ENTRIES = 5000  # featlint and libcst need about 950
_compiled: dict[Path, _Compiled] = {}


@contextlib.contextmanager
def compiled_dataclass_methods(directory: Path | None = None) -> Iterator[_Compiled]:
    """Within the block, dataclass methods are compiled at most once per interpreter version."""
    path = cache_file(cache_directory() if directory is None else directory)
    compiled = _compiled.get(path) or _compiled.setdefault(path, _Compiled(path))
    previous = vars(dataclasses).get("exec")
    dataclasses.exec = compiled  # type: ignore[attr-defined]
    try:
        yield compiled
    finally:
        if previous is None:
            del dataclasses.exec  # type: ignore[attr-defined]
        else:
            dataclasses.exec = previous  # type: ignore[attr-defined]
        compiled.save()  # also when the block ends in sys.exit, as every command does
