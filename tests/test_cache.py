"""The result cache returns exactly what linting would, and never trusts an entry it did not write for that key."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from featlint.running.cache import Cache, Entry, decode_entry, encode_entry, settings_fingerprint
from featlint.config import Overrides, SettingsResolver
from featlint.running.engine import check_text
from featlint.running.results import InternalError
from featlint.running.session import run
from featlint.running.parallel import Task, lint_file, lint_files
from featlint.rules import ALL_RULES, RULES_BY_CODE
from featlint.rules.base import Rule

REPO = Path(__file__).resolve().parents[1]
BUGGY = (REPO / "fixtures" / "buggy" / "finetune_resnet.py").read_text(encoding="utf-8")
EVERY_RULE = [rule() for rule in ALL_RULES]


def _examples() -> list[str]:
    return [code for rule in ALL_RULES for code in rule.fires] + [BUGGY]


def test_every_finding_of_every_rule_round_trips_through_an_entry() -> None:
    diagnostics = [d for i, code in enumerate(_examples()) for d in check_text(code, f"e{i}.py", EVERY_RULE).diagnostics]
    assert any(d.fix is not None for d in diagnostics) and len({d.code for d in diagnostics}) > 4
    errors = [InternalError("e1.py", "FL999", "RuntimeError: boom"), InternalError("e2.py", None, "x")]
    entry = Entry(diagnostics, ["e1.py: unknown rule code FL999 in a noqa comment"], errors)
    assert decode_entry("k", encode_entry("k", entry)) == entry


@pytest.mark.parametrize("text", [
    "", "not json", "[]", '{"format": 3}',
    '{"format": 3, "key": "other", "diagnostics": [], "warnings": [], "errors": [], "depends": {}}',
    '{"format": 999, "key": "k", "diagnostics": [], "warnings": []}',
    '{"format": 1, "key": "k", "diagnostics": [], "warnings": [], "errors": []}',  # before dependencies were listed
    '{"format": 2, "key": "k", "diagnostics": [], "warnings": [], "errors": [], "depends": {}}',  # before missing files
    '{"format": 3, "key": "k", "diagnostics": [{"code": 1}], "warnings": [], "errors": [], "depends": {}}',
    '{"format": 3, "key": "k", "diagnostics": [], "warnings": [3], "errors": [], "depends": {}}',
    '{"format": 3, "key": "k", "diagnostics": [], "warnings": [], "errors": [{"path": 1}], "depends": {}}',
    '{"format": 3, "key": "k", "diagnostics": [], "warnings": [], "errors": [], "depends": {"a.py": 3}}',
    '{"format": 3, "key": "k", "diagnostics": [], "warnings": [], "errors": []}',
])
def test_a_foreign_or_corrupt_entry_is_a_miss(text: str) -> None:
    assert decode_entry("k", text) is None


def _rules(*codes: str, **options: object) -> list[Rule]:
    return [RULES_BY_CODE[code](options.get(code)) for code in codes]


def test_the_key_covers_content_path_selection_and_options(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    lr = RULES_BY_CODE["FL401"]
    base = cache.key(b"x = 1\n", "a.py", _rules("FL101", "FL401"))
    assert base == cache.key(b"x = 1\n", "a.py", _rules("FL401", "FL101"))
    different = {
        cache.key(b"x = 2\n", "a.py", _rules("FL101", "FL401")),
        cache.key(b"x = 1\n", "b.py", _rules("FL101", "FL401")),
        cache.key(b"x = 1\n", "a.py", _rules("FL101")),
        cache.key(b"x = 1\n", "a.py", _rules("FL101", "FL401", FL401=lr.Options(min_lr=1e-9))),
        cache.key(b"x = 1\n", "a.py", _rules("FL101", "FL401", FL401=lr.Options(max_lr={"SGD": 2.0}))),
    }
    assert base not in different and len(different) == 5


def test_the_settings_fingerprint_does_not_depend_on_hash_randomisation() -> None:
    script = (
        "from featlint.running.cache import settings_fingerprint; from featlint.rules import ALL_RULES; "
        "print(settings_fingerprint([r() for r in ALL_RULES]))"
    )
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": "1"},
                           capture_output=True, text=True, check=True).stdout
    assert child == settings_fingerprint(EVERY_RULE) + "\n"  # this process has a random hash seed


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "buggy.py").write_text(BUGGY, encoding="utf-8")
    (tmp_path / "clean.py").write_text("import torch\nx = torch.zeros(3)\n", encoding="utf-8")
    (tmp_path / "noqa.py").write_text(BUGGY.replace("pretrained=True)", "pretrained=True)  # noqa: FL999"))
    (tmp_path / "binary.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "broken.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    return tmp_path


def _tasks(root: Path, rules: list[Rule] = EVERY_RULE) -> list[Task]:
    return [Task(path, path.name, rules) for path in sorted(root.glob("*.py"))]


def _outcome(results: list) -> list[tuple[object, ...]]:
    return [(r.path, r.diagnostics, [str(e) for e in r.errors], r.warnings, r.source) for r in results]


def test_a_warm_run_returns_exactly_what_a_cold_one_did_without_linting(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path_factory.mktemp("cache"))
    cold = lint_files(_tasks(project), cache=cache)
    uncached = lint_files(_tasks(project))
    assert _outcome(cold) == _outcome(uncached)
    assert {d.code for r in cold for d in r.diagnostics} >= {"FL001", "FL101", "FL305"}
    assert any(r.warnings for r in cold)

    def must_not_lint(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached file was linted again")

    monkeypatch.setattr("featlint.running.parallel.check_text", must_not_lint)
    monkeypatch.setattr("featlint.running.parallel.check_file", must_not_lint)
    # A file that cannot be decoded has no entry (FL001 is found before anything is worth storing).
    warm = lint_files([t for t in _tasks(project) if t.path.name != "binary.py"], cache=cache)
    assert _outcome(warm) == [o for o in _outcome(uncached) if o[0] != "binary.py"]


def test_an_edited_file_is_linted_again(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = Cache(tmp_path_factory.mktemp("cache"))
    task = Task(project / "clean.py", "clean.py", EVERY_RULE)
    assert lint_file(task, cache).diagnostics == []
    task.path.write_text("import torch\nopt = torch.optim.SGD(params, lr=100)\n", encoding="utf-8")
    assert [d.code for d in lint_file(task, cache).diagnostics] == ["FL401"]


def _entries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and p.name not in (".gitignore", "CACHEDIR.TAG")]


def test_a_corrupt_entry_is_ignored_and_overwritten(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("cache")
    cache = Cache(directory)
    task = Task(project / "buggy.py", "buggy.py", EVERY_RULE)
    expected = lint_file(task, cache)
    (entry,) = _entries(directory)
    for damage in (b"", b"{\"format\": 1, \"key\": \"x\"", b"\xff\xfe garbage"):
        entry.write_bytes(damage)
        assert _outcome([lint_file(task, cache)]) == _outcome([expected])
        assert decode_entry(entry.parent.name + entry.name, entry.read_text(encoding="utf-8")) is not None


class _Crashes(Rule):
    code = "FL999"
    name = "crashes"

    def check(self, ctx: object) -> Iterator[object]:
        raise RuntimeError("boom")


def test_internal_errors_are_stored_and_reported_again(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path_factory.mktemp("cache")
    rules = [_Crashes(), *EVERY_RULE]
    results = lint_files(_tasks(project, rules), cache=Cache(directory))
    assert [e.code for r in results for e in r.errors] == ["FL999"] * 3  # the files that parse
    assert {d.code for r in results for d in r.diagnostics} >= {"FL101", "FL001"}  # the other rules' findings
    monkeypatch.setattr("featlint.running.parallel.check_text", lambda *args: pytest.fail("linted again"))
    again = lint_files([t for t in _tasks(project, rules) if t.path.name != "binary.py"], cache=Cache(directory))
    assert _outcome(again) == [o for o in _outcome(results) if o[0] != "binary.py"]


def _store_repeatedly(directory: str, key: str, rounds: int) -> None:
    cache = Cache(Path(directory))
    diagnostics = check_text(BUGGY, "buggy.py", EVERY_RULE).diagnostics
    for _ in range(rounds):
        cache.store(key, Entry(diagnostics, [], []))


def test_concurrent_writers_never_leave_a_partial_entry(tmp_path: Path) -> None:
    key = "ab" + "0" * 38
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_store_repeatedly, args=(str(tmp_path), key, 60)) for _ in range(2)]
    for writer in writers:
        writer.start()
    cache, seen, lost = Cache(tmp_path), False, 0
    while any(writer.is_alive() for writer in writers):
        entry = cache.load(key)
        seen = seen or entry is not None
        lost += seen and entry is None
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    assert seen and lost == 0 and cache.load(key) is not None
    assert [p.name for p in _entries(tmp_path)] == [key[2:]]  # no temporary file left behind


def _resolver(root: Path) -> SettingsResolver:
    return SettingsResolver(Overrides(), cwd=root)


def test_the_command_line_caches_at_the_project_root_with_a_gitignore(project: Path, featlint) -> None:
    (project / "pyproject.toml").write_text("[tool.featlint]\nignore = ['FL401']\n", encoding="utf-8")
    (project / "sub").mkdir()
    first = featlint(["--output-format", "json", ".."], cwd=project / "sub")
    assert first.returncode == 1 and "FL101" in first.stdout and "FL401" not in first.stdout
    assert not (project / "sub" / ".featlint_cache").exists()
    assert (project / ".featlint_cache" / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert (project / ".featlint_cache" / "CACHEDIR.TAG").read_text(encoding="utf-8").startswith("Signature: ")
    again = featlint(["--output-format", "json", ".."], cwd=project / "sub")
    assert (again.returncode, again.stdout) == (first.returncode, first.stdout)


def test_no_cache_neither_reads_nor_writes(project: Path, featlint) -> None:
    done = featlint(["--no-cache", "buggy.py"], cwd=project)
    assert done.returncode == 1 and not (project / ".featlint_cache").exists()


def test_run_with_a_cache_equals_run_without(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = Cache(tmp_path_factory.mktemp("cache"))
    plain = run([project], _resolver(project))
    for _ in range(2):  # cold, then warm
        cached = run([project], _resolver(project), cache=cache)
        assert _outcome(cached.files) == _outcome(plain.files)
        assert cached.warnings == plain.warnings and cached.diagnostics == plain.diagnostics



def test_the_code_fingerprint_covers_every_module_and_the_data(tmp_path: Path) -> None:
    """A change to a rule or to the torchvision knowledge must miss the cache: the fingerprint walks the whole
    package, not only the folder of cache.py (it did, after the move to featlint/running/)."""
    import shutil

    import featlint

    package = Path(featlint.__file__).parent
    copy = tmp_path / "featlint"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); from featlint.running.cache import code_fingerprint; "
        "print(code_fingerprint())"
    )

    def fingerprint() -> str:
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    before = fingerprint()
    rule = copy / "rules" / "fl101_requires_grad_typo.py"
    rule.write_text(rule.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    after_rule = fingerprint()
    data = copy / "data" / "torchvision.json"
    data.write_bytes(data.read_bytes() + b" ")
    assert len({before, after_rule, fingerprint()}) == 3
