"""Hostile input through the real command line: every bad file gets a clear FL001 (or a clear message), the
other files are still linted, nothing crashes and nothing hangs. Also bad configuration, bad noqa comments and
a damaged or shared result cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from featlint import lint_source
from featlint.running.engine import check_text, _rules
from featlint.running.cache import FORMAT
from featlint.reading.nesting import MAX_DEPTH
from featlint.reading.source import UnreadableSource, read_source

from .conftest import REPO, finding_lines

TYPO = b"import torch\np.require_grad = False\n"
TYPO_MESSAGE = "FL101 [*] `require_grad` is not `requires_grad`"


def _big_data_file() -> bytes:
    """5 MB of generated data, a flat table as generated code has. It mentions nothing a rule looks for, so only
    Python's parser reads it (a 5 MB file that libcst must parse takes about a minute; see the README)."""
    row = b"    (0.485, 0.456, 0.406, 0.229, 0.224, 0.225, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),\n"
    return b"TABLE = [\n" + row * (5 * 1024 * 1024 // len(row) + 1) + b"]\n"


# name -> (bytes, the line the run must print for it)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "syntax_error.py": (b"import torch\ndef f(:\n    pass\n", "syntax_error.py:2:7: FL001 SyntaxError: invalid syntax"),
    "unknown_coding.py": (b"# -*- coding: klingon -*-\nx = 1\n", "unknown_coding.py:1:1: FL001 Bad coding declaration"),
    "wrong_coding.py": (b"# -*- coding: ascii -*-\nname = 'caf\xc3\xa9'\n",
                        "wrong_coding.py:2:12: FL001 Not valid ascii: byte 0xc3 cannot be decoded"),
    "invalid_utf8.py": (b"x = 1\ny = '\xff'\n", "invalid_utf8.py:2:6: FL001 Not valid UTF-8: byte 0xff"),
    "nul_byte.py": (b"x = 1\ny = 2\x00\n", "nul_byte.py:2:1: FL001 Binary file (it contains NUL bytes)"),
    "binary.py": (bytes(range(256)) * 64, "binary.py:1:1: FL001 Binary file"),
    "nested_brackets.py": (b"import torch\nx = " + b"[" * 1000 + b"]" * 1000 + b"\n",
                           "nested_brackets.py:2:205: FL001 SyntaxError: too many nested parentheses"),
    "nested_subscripts.py": (b"import torch\nx = a" + b"[0]" * 1000 + b"\n",
                             f"nested_subscripts.py:1:1: FL001 The file nests expressions or statements more than "
                             f"{MAX_DEPTH} levels deep"),
    "nested_additions.py": (b"import torch\nx = 1" + b" + 1" * 5000 + b"\n",
                            "nested_additions.py:1:1: FL001 The file nests expressions or statements more than"),
    "nested_parentheses.py": (b"import torch\nx = " + b"(" * 190 + b"1" + b")" * 190 + b"\n" + TYPO,
                              "nested_parentheses.py:4:1: " + TYPO_MESSAGE),
    "empty.py": (b"", ""),
    "crlf.py": (TYPO.replace(b"\n", b"\r\n"), "crlf.py:2:1: " + TYPO_MESSAGE),
    "mixed_endings.py": (b"import torch\r\nx = 1\rp.require_grad = False\n", "mixed_endings.py:3:1: " + TYPO_MESSAGE),
    "tabs.py": (b"import torch\nif True:\n\tp.require_grad = False\n", "tabs.py:3:2: " + TYPO_MESSAGE),
    "form_feed.py": (b"import torch\n\x0c\np.require_grad = False\n", "form_feed.py:3:1: " + TYPO_MESSAGE),
    "dir with spaces/na\u00efve \u6a21\u578b.py": (TYPO, "dir with spaces/na\u00efve \u6a21\u578b.py:2:1: " + TYPO_MESSAGE),
    "ok.py": (TYPO, "ok.py:2:1: " + TYPO_MESSAGE),
}


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    for name, (data, _) in HOSTILE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "big.py").write_bytes(_big_data_file())
    if hasattr(os, "symlink"):
        (root / "loop").mkdir()
        (root / "loop" / "up").symlink_to(root, target_is_directory=True)  # a directory symlink loop
        (root / "self.py").symlink_to(root / "self.py")  # a file symlink loop
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "pipe.py")  # reading it would block forever
    return root


def _featlint(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("FEATLINT_OUTPUT_FORMAT", None)
    return subprocess.run([sys.executable, "-m", "featlint", "--no-cache", *args], cwd=cwd, env=env, text=True,
                          encoding="utf-8", capture_output=True, timeout=300)


def test_every_hostile_file_gets_a_clear_diagnostic_and_the_others_are_still_linted(hostile_tree: Path) -> None:
    names = ["does not exist.py", *(["pipe.py"] if hasattr(os, "mkfifo") else [])]
    done = _featlint([".", *names], hostile_tree)
    assert done.returncode == 1, done.stderr  # findings; never 2 (an internal error)
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    lines = finding_lines(done.stdout)
    for name, (_, expected) in HOSTILE.items():
        if expected:
            assert any(line.startswith(expected) for line in lines), (name, done.stdout)
        else:
            assert not any(line.startswith(name) for line in lines), done.stdout
    assert not any(line.startswith("big.py") for line in lines)
    assert "does not exist.py:1:1: FL001 No such file or directory" in done.stdout
    if hasattr(os, "mkfifo"):
        assert "pipe.py:1:1: FL001 Not a regular file" in done.stdout
    if hasattr(os, "symlink"):  # the loops end; the file loop is not a regular file, so the walk skips it
        assert not any(line.startswith(("loop/", "self.py")) for line in lines), done.stdout
        looping = _featlint(["self.py"], hostile_tree)
        assert looping.returncode == 1 and "self.py:1:1: FL001 Cannot read the file" in looping.stdout


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_a_file_without_read_permission_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "locked.py").write_bytes(TYPO)
    (tmp_path / "ok.py").write_bytes(TYPO)
    (tmp_path / "locked.py").chmod(0)
    try:
        done = _featlint(["."], tmp_path)
    finally:
        (tmp_path / "locked.py").chmod(0o644)
    assert done.returncode == 1
    assert "locked.py:1:1: FL001 Permission denied" in done.stdout and "ok.py:2:1: FL101" in done.stdout


def test_a_file_without_read_permission_is_fl001(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as above where the tests run as root (who can read anything): the error is simulated."""
    path = tmp_path / "locked.py"
    path.write_bytes(TYPO)

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(UnreadableSource, match="Permission denied"):
        read_source(path)


@pytest.mark.parametrize("shape", [
    "x = 1" + " + 1" * 180,
    "x = a" + "[0]" * 180,
    "x = f" + "(g" * 90 + ")" * 90,
    "x = model" + ".to()" * 90,
    "x = a" + " and a" * 180,
    "x = " + "not " * 180 + "a",
    "x = " + "lambda: " * 180 + "1",
    "x = " + " ".join(['"a"'] * 3000),
    "if x == 0:\n    pass\n" + "".join(f"elif x == {i}:\n    pass\n" for i in range(180)),
    "opt = torch.optim.SGD(model.parameters(), lr=0.1" + " * 1" * 180 + ")",
])
def test_nesting_up_to_the_limit_is_linted_with_every_rule(shape: str) -> None:
    """Every recursion in libcst and in the analysis copes with what the depth check lets through, even when
    rules report (positions are computed)."""
    head = "import torch\nimport torchvision\nmodel = torchvision.models.resnet18()\n"
    source = f"{head}for p in model.parameters():\n    p.require_grad = False\n{shape}\n"
    result = check_text(source, "deep.py", _rules(["ALL"]))
    assert result.errors == []
    assert "FL101" in {d.code for d in result.diagnostics}, result.diagnostics


def test_a_recursion_the_depth_check_cannot_see_is_fl001_not_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from featlint.running import engine

    def too_deep(*args: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(engine, "FileAnalysis", too_deep)
    result = check_text(TYPO.decode(), "deep.py", _rules(["ALL"]))
    assert result.errors == []
    assert [(d.code, "levels deep" in d.message) for d in result.diagnostics] == [("FL001", True)]


def test_the_recursion_limit_is_restored() -> None:
    before = sys.getrecursionlimit()
    lint_source("import torch\np.require_grad = False\n")
    assert sys.getrecursionlimit() == before


# ---- configuration and noqa: clear errors (tests/test_cli.py covers select, TOML syntax and rule options)

@pytest.mark.parametrize(("config", "words"), [
    ('[tool.featlint]\nignore = ["FL9999"]\n', "unknown rule code or prefix 'FL9999'"),
    ('[tool.featlint]\nextend-select = ["XYZ"]\n', "unknown rule code or prefix 'XYZ'"),
    ('[tool.featlint]\nper-file-ignores = { "tests/*" = ["FL77"] }\n', "unknown rule code or prefix 'FL77'"),
    ('[tool.featlint]\nper-file-ignores = { "tests/*" = "FL101" }\n', "`per-file-ignores.tests/*` must be a list"),
    ('[tool.featlint]\nper-file-ignores = ["FL101"]\n', "`per-file-ignores` must be a table"),
    ('[tool.featlint]\nexclude = [1, 2]\n', "`exclude` must be a list of strings"),
    ("[tool]\nfeatlint = 3\n", "`tool.featlint` must be a table"),
    ('[tool.featlint]\nextreme-learning-rate = 1\n', "`extreme-learning-rate` must be a table of options"),
    ('[tool.featlint.extreme-learning-rate]\nmax-lr = { SGD = "big" }\n', "`extreme-learning-rate.max-lr`.SGD must be a number"),
    ('[tool.featlint]\nselect = ["FL1"\n', "invalid TOML"),
    ("[tool.featlint]\nselect = ['caf\udcff']\n", "invalid TOML"),  # not UTF-8
])
def test_bad_configuration_is_one_clear_error_naming_the_file(tmp_path: Path, config: str, words: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(config.encode("utf-8", "surrogateescape"))
    (tmp_path / "train.py").write_bytes(TYPO)
    done = _featlint(["train.py"], tmp_path)
    assert done.returncode == 2, done.stdout
    assert words in done.stderr and "pyproject.toml" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_unknown_codes_in_noqa_are_warnings_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import torch\np.require_grad = False  # noqa: FL999\nq.require_grad = False  # noqa: E501, FL101\n"
        "r.require_grad = False  # noqa:\n", encoding="utf-8",
    )
    done = _featlint(["train.py"], tmp_path)
    assert done.returncode == 1
    assert "warning: train.py: line 2: unknown rule code FL999 in a noqa comment" in done.stderr
    assert "line 4: `# noqa:` without codes suppresses nothing" in done.stderr
    assert [line.split(":")[1] for line in finding_lines(done.stdout)] == ["2", "4"]  # line 3 is suppressed


# ---- the result cache: damaged, written by another version, shared by two runs at once

def test_a_damaged_or_foreign_cache_is_ignored_and_repaired(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_bytes(TYPO)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "featlint", "--output-format", "json", "train.py"]
    clean = subprocess.run([*command, "--no-cache"], cwd=tmp_path, env=env, text=True, capture_output=True)
    first = subprocess.run(command, cwd=tmp_path, env=env, text=True, capture_output=True)
    assert (first.returncode, first.stdout) == (clean.returncode, clean.stdout) == (1, clean.stdout)
    cache = tmp_path / ".featlint_cache"
    entries = [p for p in cache.rglob("*") if p.is_file() and p.parent != cache]
    assert len(entries) == 1
    # Damage the entry, and leave what an older featlint might have written beside it.
    entries[0].write_bytes(b'{"format": 0, "key": "' + entries[0].name.encode() + b'", "diagnostics": 7}')
    old = cache / "0.0.1" / entries[0].parent.name / entries[0].name
    old.parent.mkdir(parents=True)
    old.write_text('{"format": 1, "key": "x", "diagnostics": [], "warnings": []}', encoding="utf-8")
    (cache / "CACHEDIR.TAG").write_bytes(b"\x00garbage")
    again = subprocess.run(command, cwd=tmp_path, env=env, text=True, capture_output=True)
    assert (again.returncode, again.stdout, again.stderr) == (first.returncode, first.stdout, first.stderr)
    assert entries[0].read_text(encoding="utf-8").startswith(f"{{\"format\":{FORMAT},")  # rewritten


def test_two_runs_at_once_share_the_cache(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"train_{i}.py").write_bytes(TYPO + f"lr_{i} = {i}\n".encode())
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "featlint", "--output-format", "json", "--jobs", "1", "."]
    expected = subprocess.run([*command, "--no-cache"], cwd=tmp_path, env=env, text=True, capture_output=True)
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert (run.returncode, stdout, stderr) == (1, expected.stdout, expected.stderr)
    warm = subprocess.run(command, cwd=tmp_path, env=env, text=True, capture_output=True)
    assert warm.stdout == expected.stdout


def test_a_name_rebound_from_itself_many_times_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`x = x.f` rebound n times made name resolution take n! steps (a timm file never finished)."""
    from featlint.analysis.names import NameResolver

    resolved: list[str] = []
    original = NameResolver._name_from_bindings

    def counting(self: NameResolver, name: str, scope: object) -> str | None:
        resolved.append(name)
        return original(self, name, scope)  # type: ignore[arg-type]

    monkeypatch.setattr(NameResolver, "_name_from_bindings", counting)
    rebinds = "".join(f"x = x.f{i}\n" for i in range(30))
    source = f"import torchvision\nx = torchvision.models\n{rebinds}m = x.resnet18()\nm.fc.requires_grad = False\n"
    result = check_text(source, "rebound.py", _rules(["ALL"]))
    assert result.errors == []
    assert resolved.count("x") == 1
