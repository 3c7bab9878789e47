"""A per-file result cache, so that a second run over unchanged files costs a read and a hash per file.

Unlike ruff's (mtime-keyed, and storing only "this file is clean"), an entry is keyed by the file's content and
holds its findings, so it survives checkouts that touch every mtime and also serves files with findings. The
key is a hash of: the file's bytes, its display path (findings name it), the effective rules of that file
with their options, featlint's version together with the size and mtime of every module of the installed
package and the content of its knowledge data (so an edited checkout never reuses a stale result), and the
versions of Python and libcst (a parser change can change a result). An entry also lists the project's other
modules the analysis read (a helper module that freezes the model) with a digest of each, and the module files
its imports were looked for in and not found: when one of them has changed or been created since, the entry is
stale, a miss.

Entries live in `.featlint_cache/<version>/<k[:2]>/<k>` at the project root, a directory with its own
`.gitignore`. Each is written to a temporary file and renamed over the entry, so concurrent runs can only
replace a whole entry with an equal one. An entry that is unreadable, malformed or not the one its key names
(a foreign or corrupt file) is a miss, and is overwritten. Internal errors of rules are stored like findings:
the code fingerprint changes with the fix, and until then a warm run reports the same error as a cold one.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import sys
import types
import typing
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featlint.version import __version__
from featlint.atomic import write_atomically
from featlint.startup.deferred import cst, package_file
from featlint.diagnostics import Diagnostic
from featlint.reading.project import ABSENT, file_digest
from featlint.running.results import InternalError

if TYPE_CHECKING:
    from featlint.rules.base import Rule

DIRECTORY_NAME = ".featlint_cache"
ENVIRONMENT_VARIABLE = "FEATLINT_CACHE_DIR"  # overrides the location, as RUFF_CACHE_DIR does for ruff
FORMAT = 3  # the layout of an entry; an entry that lacks a field (an older layout) is a miss anyway
_PACKAGE = Path(__file__).resolve().parent.parent  # featlint/: every module and the data, not running/ alone
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# featlint's result cache; see https://bford.info/cachedir/\n"


@cache
def code_fingerprint() -> str:
    """What the results depend on besides the file and its settings: featlint's code and data, Python, libcst."""
    digest = hashlib.blake2b(digest_size=16)
    # libcst's generated version module, read as text: importing it would load libcst (a cache hit never
    # needs it; featlint/startup/deferred.py) and importlib.metadata would add ~15 ms to every run's start.
    version_file = package_file(cst, "_version.py")
    if version_file.is_file():
        libcst_version = version_file.read_text(encoding="utf-8")
    else:
        from importlib import metadata

        libcst_version = metadata.version("libcst")
    digest.update(f"{FORMAT}|{__version__}|{sys.version}|{libcst_version}".encode())
    for path in sorted(_PACKAGE.rglob("*")):
        if path.suffix == ".py":
            stat = path.stat()
            digest.update(f"|{path.relative_to(_PACKAGE)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        elif path.is_file() and path.parent.name == "data":
            digest.update(f"|{path.name}|".encode() + path.read_bytes())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """Rule options as JSON that does not depend on dict order or set iteration order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _canonical(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, typing.Mapping):
        return sorted((str(key), _canonical(item)) for key, item in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def settings_fingerprint(rules: Sequence[Rule]) -> str:
    """The effective configuration of one file: which rules run on it, with which options."""
    chosen = sorted((rule.code, _canonical(rule.options)) for rule in rules)
    return json.dumps(chosen, sort_keys=True, separators=(",", ":"), default=repr)


# Encoding of findings: dataclass fields by name, enums by value, tuples as lists; decoding is driven by the
# dataclasses' own type hints, so a field added to Diagnostic later round-trips without changes here.
def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _encode(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot cache a value of type {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _decode(inner, data)
    if origin in (tuple, list):
        args = typing.get_args(hint)
        items = [_decode(args[0], item) for item in _expect(data, list)]
        return tuple(items) if origin is tuple else items
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        fields = _expect(data, dict)
        hints = _hints(hint)
        return hint(**{name: _decode(hints[name], fields[name]) for name in fields})
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint in (str, int, float, bool):
        if hint is float and isinstance(data, int) and not isinstance(data, bool):
            return float(data)
        return _expect(data, hint)
    raise TypeError(f"cannot decode {hint!r}")


def _expect(data: Any, kind: type) -> Any:
    if not isinstance(data, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(data).__name__}")
    return data


@dataclasses.dataclass(frozen=True)
class Entry:
    """What a run needs of a file it does not lint again."""

    diagnostics: list[Diagnostic]
    warnings: list[str]
    errors: list[InternalError]
    # The project's other modules the result was computed from (path -> content digest, or ABSENT for a module
    # file an import was looked for in and that did not exist): changed or created, the entry is stale.
    depends: dict[str, str] = dataclasses.field(default_factory=dict)

    def current(self) -> bool:
        return all((file_digest(Path(path)) or ABSENT) == digest for path, digest in self.depends.items())


def encode_entry(key: str, entry: Entry) -> str:
    return json.dumps({
        "format": FORMAT,
        "key": key,
        "diagnostics": [_encode(d) for d in entry.diagnostics],
        "warnings": entry.warnings,
        "errors": [_encode(e) for e in entry.errors],
        "depends": entry.depends,
    }, separators=(",", ":"))


def decode_entry(key: str, text: str) -> Entry | None:
    """The entry, or None when the text is not an intact entry for exactly this key."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
            return None
        diagnostics = [_decode(Diagnostic, item) for item in _expect(data["diagnostics"], list)]
        warnings = [_expect(item, str) for item in _expect(data["warnings"], list)]
        errors = [_decode(InternalError, item) for item in _expect(data["errors"], list)]
        depends = {_expect(path, str): _expect(digest, str) for path, digest in _expect(data["depends"], dict).items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return Entry(diagnostics, warnings, errors, depends)


@dataclasses.dataclass(frozen=True)
class Cache:
    directory: Path  # <root>/.featlint_cache
    # settings_fingerprint by rule list: a run shares one list among all files with the same settings.
    # The list is kept with its fingerprint, so its id cannot be reused by another list during the run.
    _settings: dict[int, tuple[Sequence[Rule], str]] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def __reduce__(self) -> tuple[type[Cache], tuple[Path]]:
        return (Cache, (self.directory,))  # a worker gets the location, not this process's memo

    @classmethod
    def at_project_root(cls, root: Path) -> Cache:
        override = os.environ.get(ENVIRONMENT_VARIABLE)
        return cls(Path(override) if override else root / DIRECTORY_NAME)

    def key(self, data: bytes, display: str, rules: Sequence[Rule], src: Sequence[Path] = ()) -> str:
        """`src`: the configured roots of the file's absolute imports (they decide which modules it reads)."""
        digest = hashlib.blake2b(digest_size=20)
        if id(rules) not in self._settings:
            self._settings[id(rules)] = (rules, settings_fingerprint(rules))
        for part in (code_fingerprint(), display, self._settings[id(rules)][1], *map(str, src)):
            digest.update(part.encode("utf-8", "surrogateescape"))
            digest.update(b"\0")
        digest.update(data)
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / __version__ / key[:2] / key[2:]

    def load(self, key: str) -> Entry | None:
        try:
            text = self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        entry = decode_entry(key, text)
        return entry if entry is not None and entry.current() else None  # a module it read has changed: stale

    def store(self, key: str, entry: Entry) -> None:
        """Best effort: a cache that cannot be written (read-only checkout, full disk) just stays cold."""
        path = self._path(key)
        try:
            self._prepare(path.parent)
            write_atomically(path, encode_entry(key, entry).encode("utf-8"))
        except (OSError, TypeError):
            return

    def _prepare(self, directory: Path) -> None:
        """Create the entry's directory; the first time, also the cache's .gitignore and CACHEDIR.TAG (two
        runs may both write them: with the same content)."""
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in ((".gitignore", "# Created by featlint automatically.\n*\n"), ("CACHEDIR.TAG", _TAG)):
            target = self.directory / name
            if not target.exists():
                target.write_text(content, encoding="utf-8")
