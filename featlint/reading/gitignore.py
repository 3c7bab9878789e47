"""`.gitignore` matching, as git does it, without a dependency.

Directory walks skip what git ignores: users keep generated code, virtual environments and data dumps
there, and a linter that reports on them is noise. The rules follow gitignore(5): comments and blank
lines, `!` negation, a trailing `/` for directories only, anchoring when a slash appears before the end,
`*`/`?`/`[...]` that never cross a `/`, and `**` for any number of directories. A deeper `.gitignore`
wins over a shallower one, and within one file the last matching line wins. Files inside an ignored
directory are never seen, because the walk does not descend into it (git cannot re-include them either).

Below every `.gitignore` and `.git/info/exclude` lies the user's own excludes file (`core.excludesFile`,
by default `$XDG_CONFIG_HOME/git/ignore`): people keep `.ipynb_checkpoints/`, scratch folders and editor
files there rather than in each project, and git hides them everywhere. git's configuration is read as
text (system, global, then the repository's own `.git/config`; the last setting wins), without running git.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """Translate the character class that opens at `start`; None when it never closes (a literal `[`)."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    body_start = i
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a `]` right after the opening is a member, not the end
    while i < len(pattern) and pattern[i] != "]":
        i += 1
    if i >= len(pattern):
        return None
    body = pattern[body_start:i].replace("\\", "\\\\")
    if body.startswith("^"):
        body = "\\" + body
    return ("[^/" if negate else "[") + body + "]", i + 1


def _translate(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i) and (i == 0 or body[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i) and i + 2 == len(body) and (i == 0 or body[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and (bracket := _bracket(body, i)) is not None:
            out.append(bracket[0])
            i = bracket[1]
        elif body[i] == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(body[i]))
            i += 1
    return "".join(out)


def parse_line(line: str) -> Pattern | None:
    """One line of a .gitignore file; None for blanks and comments."""
    line = line.rstrip("\n").rstrip("\r")
    if not line or line.startswith("#"):
        return None
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "  # an escaped trailing space is kept
    line = stripped
    negated = line.startswith("!")
    if negated or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    body = _translate(line.lstrip("/"))
    regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z", re.DOTALL)
    return Pattern(regex, negated, directory_only)


@dataclasses.dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one .gitignore (or .git/info/exclude), relative to `base`."""

    base: str  # absolute directory, as a string, without a trailing separator
    patterns: tuple[Pattern, ...]

    @classmethod
    def read(cls, path: Path, base: Path) -> IgnoreFile | None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        patterns = tuple(p for p in map(parse_line, text.splitlines()) if p is not None)
        return cls(str(base), patterns) if patterns else None

    def verdict(self, path: str, is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by `!`; None: no line speaks of this path."""
        if not path.startswith(self.base + os.sep):
            return None
        relative = path[len(self.base) + 1 :].replace(os.sep, "/")
        for pattern in reversed(self.patterns):
            if pattern.directory_only and not is_dir:
                continue
            if pattern.regex.match(relative):
                return not pattern.negated
        return None


def _is_repository(directory: Path) -> bool:
    return (directory / ".git").exists()


def _config_value(path: Path, section: str, key: str) -> str | None:
    """The last `key` of `[section]` in one git configuration file (names compare case-insensitively, as
    git's do); None when the file or the setting is absent."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = None
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line[1: line.find("]")].split(None, 1)[0].lower() if "]" in line else None
            line = line[line.find("]") + 1:].strip() if "]" in line else ""
        if current != section or "=" not in line or line.startswith(("#", ";")):
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if name.lower() == key:
            if value.startswith('"') and value.endswith('"') and len(value) > 1:
                value = value[1:-1]
            else:
                value = re.split(r"\s[#;]", value, maxsplit=1)[0].strip()
            found = value
    return found


def _excludes_file(root: Path) -> Path | None:
    """The user's `core.excludesFile` for the repository at `root`, or git's default when none is set."""
    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    configured = None
    for config in (Path("/etc/gitconfig"), xdg / "git" / "config", home / ".gitconfig", root / ".git" / "config"):
        value = _config_value(config, "core", "excludesfile")
        if value is not None:
            configured = value
    if configured is None:
        return xdg / "git" / "ignore"
    if not configured:
        return None
    path = Path(configured).expanduser()
    return path if path.is_absolute() else root / path


@dataclasses.dataclass(frozen=True)
class GitIgnore:
    """The ignore files in force in one directory of a walk, shallowest first."""

    files: tuple[IgnoreFile, ...] = ()
    in_repository: bool = False

    @classmethod
    def for_directory(cls, directory: Path) -> GitIgnore:
        """What applies in `directory`: every .gitignore from its repository's root down to it."""
        directory = directory.absolute()
        chain = [directory, *directory.parents]
        root = next((d for d in chain if _is_repository(d)), None)
        if root is None:
            return cls()
        ignore = cls((), True)._with_repository(root)
        for step in reversed(chain[: chain.index(root)]):
            ignore = ignore.child(step)
        return ignore

    def _with_repository(self, root: Path) -> GitIgnore:
        excludes = _excludes_file(root)
        files = [
            IgnoreFile.read(excludes, root) if excludes is not None else None,
            IgnoreFile.read(root / ".git" / "info" / "exclude", root),
            IgnoreFile.read(root / ".gitignore", root),
        ]
        return GitIgnore(tuple(f for f in files if f is not None), True)

    def child(self, directory: Path) -> GitIgnore:
        """The rules for a subdirectory: a nested repository starts afresh, otherwise its .gitignore is added."""
        if _is_repository(directory):
            return self._with_repository(directory)
        if not self.in_repository:
            return self
        found = IgnoreFile.read(directory / ".gitignore", directory)
        return self if found is None else GitIgnore((*self.files, found), True)

    def ignores(self, path: Path | str, is_dir: bool) -> bool:
        path = str(path)
        for ignore_file in reversed(self.files):
            verdict = ignore_file.verdict(path, is_dir)
            if verdict is not None:
                return verdict
        return False
