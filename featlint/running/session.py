"""A whole run: discover the files under the given paths, give each its own settings, and lint them through the
worker processes and the cache. This sits above the engine, the cache and parallel.py, which know nothing of it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from featlint.config import Overrides, SettingsResolver
from featlint.diagnostics import Diagnostic
from featlint.reading.discovery import PathFilter, discover
from featlint.running.cache import Cache
from featlint.running.engine import check_bytes
from featlint.running.parallel import Task, lint_files
from featlint.running.results import FileResult, InternalError


def display_path(path: Path, cwd: Path) -> str:
    """Paths as the user knows them: relative to the working directory when below it."""
    try:
        return path.absolute().relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


@dataclasses.dataclass
class RunResult:
    files: list[FileResult]
    warnings: list[str]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted((d for f in self.files for d in f.diagnostics), key=lambda d: d.sort_key)

    @property
    def errors(self) -> list[InternalError]:
        return [e for f in self.files for e in f.errors]


def run(
    paths: Sequence[Path],
    resolver: SettingsResolver,
    *,
    force_exclude: bool = False,
    jobs: int = 1,
    cache: Cache | None = None,
) -> RunResult:
    """Discover the files under `paths` and lint each with the settings of its own nearest config, in up to
    `jobs` worker processes and through `cache` when given (parallel.py); results in discovery order."""
    def filter_for(directory: Path) -> PathFilter:
        settings = resolver.for_directory(directory)
        return PathFilter(settings.root, settings.exclude)

    discovered = discover(paths, filter_for=filter_for, force_exclude=force_exclude)
    cwd = resolver.cwd.absolute()
    tasks = []
    for path in discovered.files:
        settings = resolver.for_file(path)
        tasks.append(Task(path, display_path(path, cwd), settings.rules_for(path), settings.src))
    results = lint_files(tasks, jobs=jobs, cache=cache)
    warnings = list(discovered.warnings)
    for result in results:
        warnings.extend(result.warnings)
    return RunResult(results, warnings)


STDIN = "-"  # the path that means standard input, and the name its findings carry when it has no other


def stdin_path(filename: Path | None, cwd: Path) -> Path:
    """Where standard input is taken to live: `--stdin-filename`, else a file named `-` in the working
    directory (whose settings then apply). fixes.rules_from maps the display path back to the same place."""
    return Path(os.path.normpath(cwd.absolute() / (filename if filename is not None else STDIN)))


def run_stdin(
    data: bytes, filename: Path | None, resolver: SettingsResolver, *, force_exclude: bool = False
) -> RunResult:
    """Lint `data` (standard input) as the file `filename`: its configuration, per-file-ignores and, with
    `force_exclude`, excludes apply, and findings name it. Never cached: nothing on disk keys the entry."""
    path = stdin_path(filename, resolver.cwd)
    settings = resolver.for_file(path)
    excluded = PathFilter(settings.root, settings.exclude).excludes_with_parents
    if force_exclude and filename is not None and excluded(path):
        return RunResult([], [])
    display = display_path(path, resolver.cwd.absolute()) if filename is not None else STDIN
    result = check_bytes(data, display, settings.rules_for(path))
    return RunResult([result], list(result.warnings))


def lint_paths(
    paths: Iterable[str | Path],
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    config: str | Path | None = None,
) -> list[Diagnostic]:
    """Lint files and directories as the command line does (configs, excludes, .gitignore, noqa)."""
    overrides = Overrides(select=tuple(select) if select is not None else None, ignore=tuple(ignore))
    resolver = SettingsResolver(overrides, Path(config) if config is not None else None)
    return run([Path(p) for p in paths], resolver).diagnostics
