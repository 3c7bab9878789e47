"""File discovery: directory walks, excludes, .gitignore semantics, explicit paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from featlint.reading.discovery import DEFAULT_EXCLUDE, PathFilter, discover, glob_matches
from featlint.reading.gitignore import GitIgnore, parse_line


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def _found(root: Path, *paths: str, patterns: tuple[str, ...] = DEFAULT_EXCLUDE, **kwargs: bool) -> list[str]:
    result = discover(
        [root / p for p in paths] or [root], filter_for=lambda _d: PathFilter(root, patterns), **kwargs
    )
    return [p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p) for p in result.files]


def _gitignored(lines: str, path: str, is_dir: bool = False) -> bool:
    patterns = [p for p in map(parse_line, lines.splitlines()) if p is not None]
    for pattern in reversed(patterns):
        if (not pattern.directory_only or is_dir) and pattern.regex.match(path):
            return not pattern.negated
    return False


@pytest.mark.parametrize(
    ("lines", "path", "is_dir", "ignored"),
    [
        ("*.py", "a.py", False, True),
        ("*.py", "deep/er/a.py", False, True),
        ("*.py", "a.pyc", False, False),
        ("/top.py", "top.py", False, True),
        ("/top.py", "sub/top.py", False, False),
        ("sub/x.py", "sub/x.py", False, True),
        ("sub/x.py", "other/sub/x.py", False, False),  # a middle slash anchors
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # directory-only pattern, and `build` is a file
        ("**/gen", "a/b/gen", True, True),
        ("**/gen", "gen", True, True),
        ("a/**/b.py", "a/b.py", False, True),
        ("a/**/b.py", "a/x/y/b.py", False, True),
        ("a/**", "a/x/y.py", False, True),
        ("a/*.py", "a/x/y.py", False, False),  # `*` never crosses a slash
        ("data?.py", "data1.py", False, True),
        ("data[0-9].py", "data7.py", False, True),
        ("data[!0-9].py", "data7.py", False, False),
        ("*.py\n!keep.py", "keep.py", False, False),
        ("!keep.py\n*.py", "keep.py", False, True),  # the last matching line wins
        ("# comment.py", "# comment.py", False, False),
        ("\\#hash.py", "#hash.py", False, True),
        ("\\!bang.py", "!bang.py", False, True),
        ("trailing.py   ", "trailing.py", False, True),
        ("", "anything.py", False, False),
    ],
)
def test_gitignore_patterns(lines: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert _gitignored(lines, path, is_dir) is ignored


def test_gitignore_is_honoured_only_inside_a_repository(tmp_path: Path) -> None:
    _touch(tmp_path, "kept.py", "out/gen.py")
    (tmp_path / ".gitignore").write_text("out/\n")
    assert _found(tmp_path) == ["kept.py", "out/gen.py"]
    (tmp_path / ".git").mkdir()
    assert _found(tmp_path) == ["kept.py"]
    assert _found(tmp_path, respect_gitignore=False) == ["kept.py", "out/gen.py"]


def test_nested_gitignore_and_info_exclude(tmp_path: Path) -> None:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("secret.py\n")
    (tmp_path / ".gitignore").write_text("*.gen.py\n")
    _touch(tmp_path, "a.py", "secret.py", "x.gen.py", "pkg/b.py", "pkg/keep.gen.py", "pkg/local.py")
    (tmp_path / "pkg" / ".gitignore").write_text("!keep.gen.py\n/local.py\n")
    assert _found(tmp_path) == ["a.py", "pkg/b.py", "pkg/keep.gen.py"]
    # Starting the walk below the repository root still applies the root's rules.
    assert _found(tmp_path, "pkg") == ["pkg/b.py", "pkg/keep.gen.py"]


def test_gitignore_for_directory_chains_from_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("*.tmp.py\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".gitignore").write_text("!ok.tmp.py\n")
    ignore = GitIgnore.for_directory(tmp_path / "a" / "b")
    assert ignore.ignores(tmp_path / "a" / "b" / "x.tmp.py", is_dir=False)
    assert not ignore.ignores(tmp_path / "a" / "b" / "ok.tmp.py", is_dir=False)


def test_default_excludes_and_only_python_files(tmp_path: Path) -> None:
    _touch(tmp_path, "a.py", ".venv/lib/x.py", "node_modules/y.py", "sub/build/z.py", "notes.txt", "sub/c.py")
    assert _found(tmp_path) == ["a.py", "sub/c.py"]


def test_exclude_patterns(tmp_path: Path) -> None:
    _touch(tmp_path, "a.py", "gen/b.py", "sub/gen/c.py", "sub/d_test.py", "sub/e.py")
    assert _found(tmp_path, patterns=("gen",)) == ["a.py", "sub/d_test.py", "sub/e.py"]
    assert _found(tmp_path, patterns=("sub/gen",)) == ["a.py", "gen/b.py", "sub/d_test.py", "sub/e.py"]
    assert _found(tmp_path, patterns=("*_test.py",)) == ["a.py", "gen/b.py", "sub/e.py", "sub/gen/c.py"]


def test_glob_matches() -> None:
    assert glob_matches("gen", "a/b/gen")
    assert glob_matches("./a/b", "a/b/c.py")
    assert not glob_matches("a/b", "x/a/b/c.py")
    assert glob_matches("legacy_*.py", "src/legacy_train.py")


def test_explicit_files_bypass_excludes_unless_forced(tmp_path: Path) -> None:
    _touch(tmp_path, "gen/b.py", "c.py")
    assert _found(tmp_path, "gen/b.py", "c.py", patterns=("gen",)) == ["c.py", "gen/b.py"]
    assert _found(tmp_path, "gen/b.py", "c.py", patterns=("gen",), force_exclude=True) == ["c.py"]
    assert _found(tmp_path, "gen", patterns=("gen",), force_exclude=True) == []


def test_missing_paths_pass_through_and_duplicates_collapse(tmp_path: Path) -> None:
    _touch(tmp_path, "a.py")
    found = _found(tmp_path, "missing.py", "a.py", ".", "./a.py")
    assert found == ["a.py", "missing.py"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loops_end(tmp_path: Path) -> None:
    _touch(tmp_path, "pkg/a.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "pkg" / "alias.py").symlink_to(tmp_path / "pkg" / "a.py")
    assert _found(tmp_path) == ["pkg/a.py", "pkg/alias.py"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_directory_is_a_warning(tmp_path: Path) -> None:
    _touch(tmp_path, "a.py", "locked/b.py")
    (tmp_path / "locked").chmod(0)
    try:
        result = discover([tmp_path], filter_for=lambda _d: PathFilter(tmp_path, ()))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [p.name for p in result.files] == ["a.py"]
    assert "cannot read directory" in result.warnings[0]


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of the test's own, so that the machine's git configuration plays no part."""
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


def test_the_users_default_excludes_file_is_honoured(tmp_path: Path, user_config: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (user_config / ".config" / "git" / "ignore").write_text(".ipynb_checkpoints/\nscratch_*.py\n")
    _touch(repo, "train.py", "scratch_1.py", ".ipynb_checkpoints/train-checkpoint.py")
    assert _found(repo) == ["train.py"]
    # The project's own .gitignore wins over the user's file.
    (repo / ".gitignore").write_text("!scratch_1.py\n")
    assert _found(repo) == ["scratch_1.py", "train.py"]


def test_core_excludes_file_from_the_global_and_the_repository_config(tmp_path: Path, user_config: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (user_config / "my-ignores").write_text("old_*.py\n")
    (user_config / ".gitconfig").write_text('[user]\n\tname = x\n[core]\n\texcludesFile = "~/my-ignores"\n')
    _touch(repo, "train.py", "old_train.py", "draft.py")
    assert _found(repo) == ["draft.py", "train.py"]
    # The repository's own configuration is read last and wins.
    (repo / "local-ignores").write_text("draft.py\n")
    (repo / ".git" / "config").write_text("[Core]\n    ExcludesFile = local-ignores ; a comment\n")
    assert _found(repo) == ["old_train.py", "train.py"]


def test_the_users_excludes_file_applies_only_inside_a_repository(tmp_path: Path, user_config: Path) -> None:
    (user_config / ".config" / "git" / "ignore").write_text("*.py\n")
    _touch(tmp_path, "plain/train.py")
    assert _found(tmp_path / "plain") == ["train.py"]
