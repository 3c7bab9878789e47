"""Which files a run lints: walks directories for `*.py` and `*.ipynb`, honouring excludes and `.gitignore`.

Notebooks are found by default, as ruff does since 0.6; `extend-exclude = ["*.ipynb"]` keeps them out.

Files named on the command line are always linted (the user asked for them), unless `--force-exclude`
applies the excludes to them too: that is what a pre-commit hook needs, since pre-commit passes every
staged file by name. Missing paths are passed through so that the engine reports them as FL001.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from featlint.reading.gitignore import GitIgnore

# ruff's defaults, plus featlint's own cache: tool caches, virtual environments and build output.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".featlint_cache", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox",
    ".venv", ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules",
    "site-packages", "venv",
)  # fmt: skip

SOURCE_SUFFIXES = (".py", ".ipynb")


def relative_posix(path: Path, root: Path) -> str:
    """`path` relative to `root` with forward slashes; the path itself when it lies elsewhere."""
    for candidate, base in ((path.absolute(), root.absolute()), (path.resolve(), root.resolve())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def glob_matches(pattern: str, relative: str) -> bool:
    """ruff's reading of an exclude or per-file-ignores glob: a bare name matches that name anywhere;
    a pattern with a slash matches the path from the config's directory (or anything below it)."""
    if "/" not in pattern.rstrip("/"):
        name = pattern.rstrip("/")
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], name) or fnmatch.fnmatchcase(relative, name)
    anchored = pattern.removeprefix("./").strip("/")
    return fnmatch.fnmatchcase(relative, anchored) or fnmatch.fnmatchcase(relative, anchored + "/*")


@dataclasses.dataclass(frozen=True)
class PathFilter:
    """The exclude globs of one configuration, relative to the directory that configuration lives in."""

    root: Path
    patterns: tuple[str, ...]

    def __init__(self, root: Path, patterns: Iterable[str]) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "patterns", tuple(patterns))

    def excludes(self, path: Path) -> bool:
        relative = relative_posix(path, self.root)
        return any(glob_matches(pattern, relative) for pattern in self.patterns)

    def excludes_with_parents(self, path: Path) -> bool:
        """For paths named explicitly: excluded when the path or any directory above it (below the
        config's root) is."""
        path = path.absolute()
        root = self.root.absolute()
        if self.excludes(path):
            return True
        for parent in path.parents:
            if root not in parent.parents:
                return False
            if self.excludes(parent):
                return True
        return False


@dataclasses.dataclass
class DiscoveryResult:
    files: list[Path]
    warnings: list[str]


FilterFor = Callable[[Path], PathFilter]


def discover(
    paths: Sequence[Path],
    *,
    filter_for: FilterFor,
    force_exclude: bool = False,
    respect_gitignore: bool = True,
) -> DiscoveryResult:
    """The files to lint under `paths`, each once, in a stable order.

    `filter_for(directory)` gives the excludes that apply to entries of `directory` (its nearest config).
    """
    found: dict[str, Path] = {}
    warnings: list[str] = []

    def add(path: Path) -> None:
        key = os.path.normcase(os.path.abspath(path))
        found.setdefault(key, path)

    for given in paths:
        parent = given.absolute().parent
        if force_exclude and given.exists() and filter_for(parent).excludes_with_parents(given):
            continue
        if given.is_dir():
            ignore = GitIgnore.for_directory(given) if respect_gitignore else None
            _walk(given, filter_for, ignore, add, warnings)
        else:
            add(given)
    files = sorted(found.values(), key=lambda p: p.as_posix())
    return DiscoveryResult(files, warnings)


def _walk(
    top: Path,
    filter_for: FilterFor,
    ignore: GitIgnore | None,
    add: Callable[[Path], None],
    warnings: list[str],
) -> None:
    """Depth-first, without following directory symlinks (which is also what keeps it finite)."""
    stack: list[tuple[Path, GitIgnore | None]] = [(top, ignore)]
    while stack:
        directory, ignore = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name, reverse=True)
        except OSError as error:
            warnings.append(f"{directory}: cannot read directory: {error.strerror or error}")
            continue
        path_filter = filter_for(directory)
        for entry in entries:
            path = directory / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_source = not is_dir and entry.name.endswith(SOURCE_SUFFIXES) and entry.is_file()
            except OSError:
                continue
            if not (is_dir or is_source) or path_filter.excludes(path):
                continue
            if ignore is not None and ignore.ignores(path.absolute(), is_dir):
                continue
            if is_dir:
                stack.append((path, ignore.child(path.absolute()) if ignore is not None else None))
            else:
                add(path)
