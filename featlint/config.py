"""Settings: `[tool.featlint]` in the nearest pyproject.toml, overridden by the command line.

Selection follows ruff: `select` (from the command line if given, else the config, else the default rules)
is the base, then `extend-select` adds and `ignore` removes. A command-line `--select` replaces the config's
selection entirely, ignores included. Rules that are off by default are enabled only by their full code
or by `ALL`, never by a prefix, so that `--select FL2` does not switch on an opt-in rule by surprise.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from featlint.reading.discovery import DEFAULT_EXCLUDE, glob_matches, relative_posix
from featlint.rules import ALL_RULES, RULES_BY_CODE, RULES_BY_NAME
from featlint.rules.base import Rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude")
_SETTING_KEYS = frozenset({*_LIST_KEYS, "per-file-ignores", "src"})


class ConfigError(Exception):
    """A setting that cannot be used; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What the command line says; None means "not given"."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()


def expand(selectors: Iterable[str], where: str) -> frozenset[str]:
    """Codes and prefixes (`FL2`, `FL20`, `FL201`, `ALL`) to rule codes; an unknown one is an error."""
    codes: set[str] = set()
    for selector in selectors:
        token = selector.strip().upper()
        if token == "ALL":
            codes.update(RULES_BY_CODE)
            continue
        if token in RULES_BY_CODE:
            codes.add(token)
            continue
        matched = {r.code for r in ALL_RULES if r.code.startswith(token) and r.default_enabled}
        if not token or not any(code.startswith(token) for code in RULES_BY_CODE):
            raise ConfigError(f"{where}: unknown rule code or prefix {selector!r} (see `featlint rules`)")
        codes.update(matched)
    return frozenset(codes)


@dataclasses.dataclass(frozen=True)
class Settings:
    root: Path  # the directory that relative patterns are relative to
    config_path: Path | None
    select: frozenset[str]
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...]
    exclude: tuple[str, ...]
    options: Mapping[str, Any]  # rule code -> that rule's Options instance
    # Where absolute imports of the project's own modules are also looked up (ruff's `src`), absolute.
    src: tuple[Path, ...] = ()
    _rules: dict[frozenset[str], list[Rule]] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def codes_for(self, path: Path) -> frozenset[str]:
        codes = self.select
        if not self.per_file_ignores:
            return codes
        relative = relative_posix(path, self.root)
        for pattern, ignored in self.per_file_ignores:
            if glob_matches(pattern, relative):
                codes = codes - ignored
        return codes

    def rules_for(self, path: Path) -> list[Rule]:
        codes = self.codes_for(path)
        if codes not in self._rules:
            self._rules[codes] = [rule(self.options.get(rule.code)) for rule in ALL_RULES if rule.code in codes]
        return self._rules[codes]


def default_codes() -> frozenset[str]:
    return frozenset(rule.code for rule in ALL_RULES if rule.default_enabled)


def read_table(config_path: Path) -> dict[str, Any] | None:
    """The `[tool.featlint]` table of a pyproject.toml, or None when it has none."""
    try:
        with config_path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{config_path}: cannot read the file: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{config_path}: invalid TOML: byte 0x{error.object[error.start]:02x} at offset "
                          f"{error.start} is not UTF-8 (TOML files must be UTF-8)") from None
    tool = document.get("tool", {})
    table = tool.get("featlint") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{config_path}: `tool.featlint` must be a table")
    return table


def find_config(directory: Path) -> Path | None:
    """The nearest pyproject.toml at or above `directory` that has a `[tool.featlint]` table."""
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        if candidate.is_file() and read_table(candidate) is not None:
            return candidate
    return None


def _string_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings, got {value!r}")
    return tuple(value)


def _rule_options(rule: type[Rule], table: Any, where: str) -> Any:
    """Check a rule's option table against its Options dataclass: unknown keys and wrong types are errors."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: `{rule.name}` must be a table of options")
    fields = {field.name.replace("_", "-"): field for field in dataclasses.fields(rule.Options)}
    defaults = rule.Options()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(f"{where}: unknown option `{key}` for {rule.code} {rule.name} (known: {known})")
        default = getattr(defaults, fields[key].name)
        values[fields[key].name] = _checked(value, default, f"{where}: `{rule.name}.{key}`")
    return dataclasses.replace(defaults, **values)


def _checked(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return type(default)(value) if isinstance(default, float) else value
    if isinstance(default, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {value!r}")
        merged = dict(default)
        for key, item in value.items():
            if key not in default:
                raise ConfigError(f"{where}: unknown key `{key}` (known: {', '.join(sorted(default))})")
            merged[key] = _checked(item, default[key], f"{where}.{key}")
        return merged
    if isinstance(value, type(default)):
        return value
    raise ConfigError(f"{where} must be of type {type(default).__name__}, got {value!r}")


def build_settings(table: Mapping[str, Any], config_path: Path | None, root: Path, cli: Overrides) -> Settings:
    where = str(config_path) if config_path else "configuration"
    options: dict[str, Any] = {}
    for key, value in table.items():
        rule = RULES_BY_NAME.get(key) or RULES_BY_CODE.get(key.upper())
        if rule is not None:
            options[rule.code] = _rule_options(rule, value, where)
        elif key not in _SETTING_KEYS:
            raise ConfigError(f"{where}: unknown key `{key}` in [tool.featlint]")
    lists = {key: _string_list(table, key, where) for key in _LIST_KEYS}
    if cli.select is not None:
        base = expand(cli.select, "--select")
        extend = expand(cli.extend_select, "--extend-select")
        ignore = expand(cli.ignore, "--ignore")
    else:
        base = expand(lists["select"], f"{where}: `select`") if lists["select"] is not None else default_codes()
        extend = expand(lists["extend-select"] or (), f"{where}: `extend-select`") | expand(
            cli.extend_select, "--extend-select"
        )
        ignore = expand(lists["ignore"] or (), f"{where}: `ignore`") | expand(cli.ignore, "--ignore")
    per_file = [*_per_file_ignores(table.get("per-file-ignores"), where), *(
        (pattern, expand(codes, "--per-file-ignores")) for pattern, codes in cli.per_file_ignores
    )]
    exclude = cli.exclude if cli.exclude is not None else lists["exclude"]
    return Settings(
        root=root,
        config_path=config_path,
        select=(base | extend) - ignore,
        per_file_ignores=tuple(per_file),
        exclude=(
            *(exclude if exclude is not None else DEFAULT_EXCLUDE), *(lists["extend-exclude"] or ()), *cli.extend_exclude
        ),
        options=options,
        src=_src_roots(table, config_path, where),
    )


def _src_roots(table: Mapping[str, Any], config_path: Path | None, where: str) -> tuple[Path, ...]:
    """`src = ["src", "libs"]`: directories relative to the config file's own (wherever `--config` is run from)."""
    roots = _string_list(table, "src", where) or ()
    base = config_path.parent if config_path is not None else Path.cwd()
    found = []
    for root in roots:
        directory = (base / root).resolve()
        if not directory.is_dir():
            raise ConfigError(f"{where}: `src` entry {root!r} is not a directory ({directory})")
        found.append(directory)
    return tuple(dict.fromkeys(found))


def _per_file_ignores(value: Any, where: str) -> list[tuple[str, frozenset[str]]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: `per-file-ignores` must be a table of glob = [codes]")
    found = []
    for pattern, codes in value.items():
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise ConfigError(f"{where}: `per-file-ignores.{pattern}` must be a list of rule codes")
        found.append((pattern, expand(codes, f"{where}: `per-file-ignores.{pattern}`")))
    return found


class SettingsResolver:
    """The settings for each linted file: its nearest config (or `--config`), read once per config file."""

    def __init__(self, overrides: Overrides, config_file: Path | None = None, cwd: Path | None = None) -> None:
        self.overrides = overrides
        self.cwd = cwd or Path.cwd()
        self.config_file = config_file
        self._by_config: dict[Path | None, Settings] = {}
        self._by_directory: dict[Path, Settings] = {}

    def for_directory(self, directory: Path) -> Settings:
        directory = directory.resolve()
        if directory not in self._by_directory:
            config = self.config_file if self.config_file is not None else find_config(directory)
            self._by_directory[directory] = self._load(config)
        return self._by_directory[directory]

    def for_file(self, path: Path) -> Settings:
        return self.for_directory(path.parent if path.parent != Path("") else Path("."))

    def _load(self, config: Path | None) -> Settings:
        if config not in self._by_config:
            if config is None:
                self._by_config[None] = build_settings({}, None, self.cwd, self.overrides)
            else:
                table = read_table(config)
                if table is None and self.config_file is not None:
                    table = {}  # an explicit --config without the table is allowed: it just sets nothing
                # With --config, relative patterns are relative to the working directory, as in ruff.
                root = self.cwd if self.config_file is not None else config.parent
                self._by_config[config] = build_settings(table or {}, config, root, self.overrides)
        return self._by_config[config]


def parse_per_file_ignore(value: str) -> tuple[str, tuple[str, ...]]:
    """`GLOB:CODE[,CODE...]` from the command line."""
    pattern, sep, codes = value.rpartition(":")
    if not sep or not pattern or not codes:
        raise ConfigError(f"--per-file-ignores: expected GLOB:CODES, got {value!r}")
    return pattern, tuple(code for code in codes.split(",") if code)


def split_codes(values: Sequence[str]) -> tuple[str, ...]:
    """Accept `--select FL1,FL2` as well as repeated `--select` flags."""
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())
