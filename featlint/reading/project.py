"""Where a linted file's project is and which of its files an import names.

Training code is split over modules (`models/`, `engine.py`, `train.py`); to follow a model from one into
another featlint must find the file an import means, without importing anything. The project root is the
nearest directory above the file that holds `pyproject.toml`, `setup.cfg` or `.git` (else the file's own
directory). An absolute import is looked up beside the importing file (scripts run from their directory),
then under the configured `src` roots (`[tool.featlint] src = [...]`), then under the root and its `src/`;
a relative one from the importing module's package. Anything not found there (the standard library,
third-party packages) stays opaque, as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

_ROOT_MARKERS = ("pyproject.toml", "setup.cfg", ".git")
_MAX_ROOT_CLIMB = 12  # directories walked up looking for a root marker: a deep tree with none is its own root


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a linted file lives: the file on disk, and the configured `src` roots (absolute) under which its
    absolute imports are also looked up, as ruff's `src` setting does."""

    path: Path
    src: tuple[Path, ...] = ()


_ROOTS: dict[Path, Path] = {}  # a directory -> its project root: the files of a directory share it


def project_root(path: Path) -> Path:
    start = path.parent
    if start not in _ROOTS:
        found = next(
            (parent for parent in [start, *start.parents][:_MAX_ROOT_CLIMB]
             if any((parent / marker).exists() for marker in _ROOT_MARKERS)),
            start,
        )
        _ROOTS[start] = found
    return _ROOTS[start]


_LISTINGS: dict[tuple[str, int], frozenset[str]] = {}  # directory and its mtime -> the names in it


def _names_in(directory: Path) -> frozenset[str]:
    """What a directory holds, read once per change of the directory: most imported names (`numpy`,
    `transformers`) are no file of the project, and one stat tells so for all of them."""
    try:
        key = (str(directory), directory.stat().st_mtime_ns)
        if key not in _LISTINGS:
            if len(_LISTINGS) > 4096:
                _LISTINGS.clear()
            _LISTINGS[key] = frozenset(os.listdir(directory))
        return _LISTINGS[key]
    except OSError:
        return frozenset()


def module_file(directory: Path, parts: list[str], absent: list[Path] | None = None) -> Path | None:
    """The file of the module `parts` under `directory` (`a/b.py` or `a/b/__init__.py`), if it exists; else
    both candidates are added to `absent` (when given): creating either would change what the import means."""
    if not parts or any(not part.isidentifier() for part in parts):
        return None
    base = directory.joinpath(*parts)
    candidates = (base.with_suffix(".py"), base / "__init__.py")
    if {parts[0], f"{parts[0]}.py"} & _names_in(directory):
        for candidate in candidates:
            if candidate.is_file():
                return candidate
    if absent is not None:
        absent.extend(candidates)
    return None


def split_target(
    importer: Path, root: Path, qualified: str, src: tuple[Path, ...] = (), absent: list[Path] | None = None
) -> tuple[Path, list[str]] | None:
    """The module file a dotted name starts in and the names inside it: `models.build` from `train.py` is
    (`models/__init__.py` or `models.py`, ["build"]); `.backbone.freeze` is looked up in the importer's package.
    The longest module prefix wins, so `pkg.sub.f` is `f` in `pkg/sub.py` when that file exists. An absolute
    name is looked up beside the importer, then under the configured `src` roots, then under the root and its
    `src/`. `absent` collects the files looked for and not found before the answer (see module_file)."""
    stripped = qualified.lstrip(".")
    level = len(qualified) - len(stripped)
    parts = stripped.split(".") if stripped else []
    if level:
        base = importer.parent
        for _ in range(level - 1):
            base = base.parent
        directories = [base]
    else:
        directories = list(dict.fromkeys([importer.parent, *src, root, root / "src"]))
    for directory in directories:
        for cut in range(len(parts) - 1, 0, -1):
            found = module_file(directory, parts[:cut], absent)
            if found is not None and found != importer:
                return found, parts[cut:]
    return None


ABSENT = "absent"  # the digest a cached result records for a module file that did not exist


def content_digest(data: bytes) -> str:
    """What a cached result remembers of each module it read (see featlint.running.cache)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


_DIGESTS: dict[tuple[str, int, int], str] = {}  # a warm run checks the same helper module for many files


def file_digest(path: Path) -> str | None:
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = content_digest(path.read_bytes())
        return _DIGESTS[key]
    except OSError:
        return None
