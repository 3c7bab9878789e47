"""Lint many files: through the result cache first, then in worker processes, with results in input order.

libcst parses in Python-visible objects under the GIL, so only processes give parallelism. Workers are
started with "spawn" on every platform (no fork of a parent that may hold threads, as in the language
server; the same behaviour on Linux, macOS and Windows) and each lints whole files, returning plain
picklable results. Small runs stay in the calling process: starting a worker costs about as much as linting
a dozen files. Files are handed out largest first so that one big file does not finish last on its own.

Memory goes to libcst's parser, about 500 bytes per byte of source while it works, which
featlint/reading/piecewise.py bounds by parsing a large file in pieces; still, a large file costs 50-180 MB where a
small one costs a few, so at most one large file is linted at a time while the other workers take the small
ones, and a worker hands the freed memory back to the system after a large file (the allocator otherwise
keeps it, and every worker would hold its own high-water mark until the end of the run).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from featlint.running.cache import Cache, Entry
from featlint.running.engine import check_file, check_text
from featlint.running.results import FileResult, InternalError
from featlint.rules.base import Rule
from featlint.reading.source import UnreadableSource, decode_source, read_bytes
from featlint.startup.collector import collect_less_often

if TYPE_CHECKING:
    from concurrent.futures import Future

# Each worker must have at least this many files to lint, or starting it costs more than it saves.
FILES_PER_WORKER = 12
# Bytes of source above which a file counts as large (as featlint/reading/piecewise.py's PIECEWISE_FROM): 50-180 MB.
LARGE_FILE = 128 * 1024


@dataclasses.dataclass(frozen=True)
class Task:
    path: Path
    display: str  # the path as findings name it
    rules: Sequence[Rule]
    src: tuple[Path, ...] = ()  # the configured roots of its absolute imports (`src = [...]`)


def default_jobs() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _finished(result: FileResult) -> FileResult:
    # The text is kept only where findings are rendered or fixed; a run over a large tree keeps no sources.
    if not result.diagnostics:
        result.source = None
    return result


def _read(task: Task) -> bytes | None:
    """The file's bytes; None when it cannot be read (check_file then reports why, as FL001)."""
    try:
        return read_bytes(task.path)
    except UnreadableSource:
        return None


def _cached(task: Task, cache: Cache, data: bytes) -> tuple[str, FileResult | None]:
    key = cache.key(data, task.display, task.rules, task.src)
    entry = cache.load(key)
    if entry is None:
        return key, None
    try:  # the text is needed only to render or fix findings; most files have none
        source = decode_source(data) if entry.diagnostics else None
    except UnreadableSource:
        return key, None
    return key, FileResult(task.display, entry.diagnostics, entry.errors, entry.warnings, source)


def from_cache(task: Task, cache: Cache) -> FileResult | None:
    """The stored result of an unchanged file, or None."""
    data = _read(task)
    return _cached(task, cache, data)[1] if data is not None else None


def lint_file(task: Task, cache: Cache | None = None) -> FileResult:
    """One file, end to end: what a worker does, and what the calling process does for a small run."""
    data = _read(task)
    key = None
    if data is not None and cache is not None:
        key, hit = _cached(task, cache, data)
        if hit is not None:
            return hit
    try:
        text = decode_source(data) if data is not None else None
    except UnreadableSource:
        text = None
    if text is None:
        return _finished(check_file(task.path, task.display, task.rules))
    result = check_text(text, task.display, task.rules, location=task.path, src=task.src)
    if key is not None:
        cache.store(key, Entry(result.diagnostics, result.warnings, result.errors, result.depends))
    if len(text) > LARGE_FILE:
        _release_memory()
    return _finished(result)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes.util  # here: most runs never lint a large file

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to hand back this way
        return None


def _release_memory() -> None:
    """Return the memory of a large file's freed tree to the system (glibc keeps it; about 5 ms)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it, so workers print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect_less_often()  # as the command does (a spawned worker does not run its entry point)


def _size(task: Task) -> int:
    try:
        return task.path.stat().st_size
    except OSError:
        return 0


def lint_files(tasks: Sequence[Task], *, jobs: int = 1, cache: Cache | None = None) -> list[FileResult]:
    """Every task's result, in the order of `tasks`, whatever `jobs` is."""
    results: list[FileResult | None] = [None] * len(tasks)
    pending = []
    for index, task in enumerate(tasks):
        hit = from_cache(task, cache) if cache is not None else None
        if hit is None:
            pending.append(index)
        else:
            results[index] = hit
    workers = min(jobs, len(pending) // FILES_PER_WORKER)
    if workers <= 1:
        for index in pending:
            results[index] = lint_file(tasks[index], cache)
    else:
        _lint_in_workers(tasks, pending, workers, cache, results)
    return [result for result in results if result is not None]


def _failed(task: Task, message: str) -> FileResult:
    return FileResult(task.display, errors=[InternalError(task.display, None, message)])


class Schedule:
    """The order files are handed to workers: as given (largest first), but never two large files at once;
    while one runs, the small files go ahead."""

    def __init__(self, order: Sequence[int], large: Mapping[int, bool]) -> None:
        self._large = large
        self._queues = (
            collections.deque(i for i in order if large[i]), collections.deque(i for i in order if not large[i])
        )
        self._large_running = False

    @property
    def left(self) -> bool:
        return any(self._queues)

    def take(self) -> int | None:
        """The next file to start, or None when none may start until a running one finishes."""
        big, small = self._queues
        if big and not self._large_running:
            self._large_running = True
            return big.popleft()
        return small.popleft() if small else None

    def finished(self, index: int) -> None:
        if self._large[index]:
            self._large_running = False


def _lint_in_workers(
    tasks: Sequence[Task], pending: list[int], workers: int, cache: Cache | None, results: list[FileResult | None]
) -> None:
    # Imported here: a run of a few files (an editor, pre-commit) never pays for the pool machinery.
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    sizes = {index: _size(tasks[index]) for index in pending}  # one stat per file, for the order and the lanes
    order = sorted(pending, key=lambda index: -sizes[index])
    schedule = Schedule(order, {index: size > LARGE_FILE for index, size in sizes.items()})
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
    running: dict[Future[FileResult], int] = {}
    try:
        while schedule.left or running:
            # Two tasks queued per worker keep every worker busy.
            while len(running) < 2 * workers and (index := schedule.take()) is not None:
                running[executor.submit(lint_file, tasks[index], cache)] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                schedule.finished(index)
                results[index] = _outcome(future, tasks[index], BrokenProcessPool)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()


def _outcome(future: Future[FileResult], task: Task, broken: type[Exception]) -> FileResult:
    try:
        return future.result()
    except broken:
        return _failed(task, "the worker process linting it stopped (rerun with --jobs 1)")
    except Exception as error:  # noqa: BLE001 - one file must never stop the run
        return _failed(task, f"{type(error).__name__}: {error}")
