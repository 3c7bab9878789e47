"""Linting in worker processes gives exactly what one process gives, in the same order, errors included."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from featlint.running import parallel
from featlint.running.cache import Cache
from featlint.config import Overrides, SettingsResolver
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic
from featlint.running.results import FileResult
from featlint.running.session import run
from featlint.running.parallel import Schedule, Task, lint_files
from featlint.rules import ALL_RULES
from featlint.rules.base import Rule

REPO = Path(__file__).resolve().parents[1]


class CrashesOnMarker(Rule):
    """Module-level, so that spawned workers can unpickle it; crashes where a file asks it to."""

    code = "FL998"
    name = "crashes-on-marker"

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        if "CRASH" in ctx.source:
            raise RuntimeError("boom")
        if "DIE" in ctx.source:
            os._exit(3)  # a worker that dies outright (a segfault in a native parser looks the same)
        return iter(())


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Every rule example as a file of its own, plus files of every kind that ends up as FL001."""
    for rule in ALL_RULES:
        for i, code in enumerate((*rule.fires, *rule.silent)):
            (tmp_path / f"{rule.code.lower()}_{i:02d}.py").write_text(code, encoding="utf-8")
    (tmp_path / "big.py").write_text((REPO / "fixtures/buggy/finetune_resnet.py").read_text() * 20)
    (tmp_path / "noqa.py").write_text("p.require_grad = False  # noqa: FL999\n", encoding="utf-8")
    (tmp_path / "binary.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "broken.py").write_text("def broken(:\n", encoding="utf-8")
    (tmp_path / "crash.py").write_text("# CRASH\np.require_grad = False\n", encoding="utf-8")
    return tmp_path


def _outcome(results: list[FileResult]) -> list[tuple[object, ...]]:
    return [(r.path, r.diagnostics, [str(e) for e in r.errors], r.warnings, r.source) for r in results]


def _tasks(root: Path) -> list[Task]:
    rules = [rule() for rule in ALL_RULES] + [CrashesOnMarker()]
    return [Task(path, path.name, rules) for path in sorted(root.glob("*.py"))]


@pytest.mark.parametrize("large_file", [parallel.LARGE_FILE, 60])  # 60 bytes: most files take the large lane
def test_workers_give_the_same_results_in_the_same_order(
    tree: Path, large_file: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "LARGE_FILE", large_file)
    tasks = _tasks(tree)
    serial = lint_files(tasks, jobs=1)
    parallel_results = lint_files(tasks, jobs=2)
    assert len(tasks) >= 2 * parallel.FILES_PER_WORKER  # so that two workers really ran
    assert _outcome(parallel_results) == _outcome(serial)
    codes = {d.code for r in serial for d in r.diagnostics}
    assert {"FL001", "FL101"} <= codes
    assert [str(e) for r in serial for e in r.errors] == ["crash.py: internal error in rule FL998: RuntimeError: boom"]
    assert any(r.warnings for r in serial)


@pytest.mark.parametrize("seed", range(20))
def test_the_schedule_hands_out_every_file_once_and_never_two_large_files_at_once(seed: int) -> None:
    rng = random.Random(seed)
    large = {i: rng.random() < 0.3 for i in range(40)}
    order = sorted(range(40), key=lambda i: -i)  # any order: the schedule keeps it within each kind
    schedule = Schedule(order, large)
    running: list[int] = []
    started: list[int] = []
    while schedule.left or running:
        while len(running) < 3 and (index := schedule.take()) is not None:
            running.append(index)
            started.append(index)
            assert sum(large[i] for i in running) <= 1
        assert running, "nothing may start and nothing runs: the schedule is stuck"
        schedule.finished(running.pop(rng.randrange(len(running))))
    assert sorted(started) == list(range(40))
    assert [i for i in started if large[i]] == [i for i in order if large[i]]
    assert [i for i in started if not large[i]] == [i for i in order if not large[i]]


def test_a_run_is_the_same_with_any_number_of_jobs_and_with_the_cache(
    tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    resolver = SettingsResolver(Overrides(select=("ALL",)), cwd=tree)
    serial = run([tree], resolver, jobs=1)
    cache = Cache(tmp_path_factory.mktemp("cache"))
    for _ in ("cold", "warm"):  # a warm run starts no workers at all
        again = run([tree], resolver, jobs=2, cache=cache)
        assert _outcome(again.files) == _outcome(serial.files)
        assert (again.diagnostics, again.warnings) == (serial.diagnostics, serial.warnings)


def test_a_dying_worker_becomes_an_internal_error_and_the_run_completes(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "die.py").write_text("# DIE\n", encoding="utf-8")
    monkeypatch.setattr(parallel, "FILES_PER_WORKER", 1)
    tasks = [task for task in _tasks(tree) if task.path.name in ("big.py", "crash.py", "die.py", "noqa.py")]
    results = lint_files(tasks, jobs=2)
    assert [r.path for r in results] == [t.display for t in tasks]
    failed = {r.path for r in results if any("worker process" in str(e) for e in r.errors)}
    assert "die.py" in failed


def test_small_runs_stay_in_this_process(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_workers(*args: object) -> None:
        raise AssertionError("workers started for a handful of files")

    monkeypatch.setattr(parallel, "_lint_in_workers", no_workers)
    tasks = _tasks(tree)[: parallel.FILES_PER_WORKER * 2 - 1]
    assert len(lint_files(tasks, jobs=8)) == len(tasks)


def test_jobs_must_be_positive(featlint, tmp_path: Path) -> None:
    done = featlint(["--jobs", "0", "."], cwd=tmp_path)
    assert done.returncode == 2 and "--jobs" in done.stderr
