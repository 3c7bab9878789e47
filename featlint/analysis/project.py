"""The project's own modules a linted file calls into: found, parsed and analysed on demand, so that the model
story continues through `build_model(cfg)` or `train_one_epoch(model, ...)` written in another file.

Each module is read and parsed at most once per process (:data:`_UNITS`, keyed by path, size and mtime) and
each linted file may open at most :data:`MAX_MODULES` of them, :data:`MAX_LEVELS` imports away from it: past
a budget a call is an escape, as a call into code featlint cannot see always was. Findings stay in the linted
file; a node of another module is cited as `models/backbone.py:41` (:meth:`Project.where`) and reported at
the linted file's call that led into it (:meth:`Project.anchor`).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, collect
from featlint.analysis.values import ValueAnalyzer
from featlint.reading.nesting import check_depth
from featlint.reading.piecewise import parse_module
from featlint.reading.project import content_digest, project_root, split_target
from featlint.reading.source import UnreadableSource, decode_source, read_bytes
from featlint.startup.deferred import cst

MAX_MODULES = 20  # project modules opened for one linted file
MAX_LEVELS = 2  # imports followed away from the linted file (train.py -> engine.py -> utils.py)
MAX_FILE_BYTES = 150_000  # larger: generated code or a library, not a training helper (and a large tree)
_CACHE_SIZE = 48  # modules kept parsed per process (a parsed tree takes many times its source in memory)
_REEXPORT_HOPS = 2  # `models/__init__.py` re-exporting `from .backbone import build`, followed this far
_ANCHORED_PARTS = 256  # parts of a reported node of another module anchored with it (an optimizer call and its arguments)


@dataclasses.dataclass(eq=False)
class Unit:
    """One parsed module of the project with the analysis the interpreter needs to step into its functions."""

    path: Path
    module: cst.Module
    facts: ModuleFacts
    names: NameResolver
    values: ValueAnalyzer
    _positions: object = None

    def line(self, node: cst.CSTNode) -> int | None:
        if self._positions is None:
            from featlint.positions import Positions  # loads libcst's code generator: only when citing a line

            self._positions = Positions(self.module)
        try:
            return self._positions.span(node)[0][0]  # type: ignore[attr-defined]
        except KeyError:
            return None


Target = tuple[Unit, "cst.FunctionDef | cst.ClassDef"]  # a function or class and the module it is written in
# Each module read: its analysis (None when it cannot matter or cannot be parsed) and the digest of its bytes.
_UNITS: OrderedDict[tuple[str, int, int], tuple[Unit | None, str | None]] = OrderedDict()
# A module whose text has none of these records nothing in a story: it is not parsed (its calls are escapes).
# A package's `__init__.py` is parsed anyway, for its re-exports.
_STORY_WORDS = (b"torch", b"timm", b"lightning", b"transformers", b"peft", b"requires_grad", b"parameters", b".train(", b".eval(")


def _load(path: Path) -> tuple[Unit | None, str | None]:
    try:
        stat = path.stat()
    except OSError:
        return None, None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _UNITS:
        _UNITS.move_to_end(key)
        return _UNITS[key]
    unit, digest = None, None
    if stat.st_size <= MAX_FILE_BYTES:
        try:
            data = read_bytes(path)
            digest = content_digest(data)
            relevant = path.name == "__init__.py" or any(word in data for word in _STORY_WORDS)
            text = decode_source(data)
            # As the engine parses: nesting too deep for the native parser (it would crash) is refused first.
            module = parse_module(text, check_depth(text)) if relevant else None
            if module is not None:
                facts = collect(module)
                names = NameResolver(facts)
                unit = Unit(path, module, facts, names, ValueAnalyzer(facts, names))
        except (UnreadableSource, cst.ParserSyntaxError, RecursionError, ValueError):
            unit = None  # a module featlint cannot read is opaque, like a library: never a problem of the linted file
    _UNITS[key] = (unit, digest)
    while len(_UNITS) > _CACHE_SIZE:
        _UNITS.popitem(last=False)
    return unit, digest


class Project:
    """The project modules one linted file reaches, within its budgets."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.root = project_root(self.path)
        self.units: dict[Path, tuple[Unit, int]] = {}  # each opened module and how many imports away it is
        self._anchors: dict[int, cst.CSTNode] = {}  # a node of another module -> the linted file's call
        self._targets: dict[tuple[str, Path | None], Target | None] = {}
        self._entered: dict[Path, cst.CSTNode] = {}
        self._read: dict[Path, str] = {}  # every module read (also those not parsed) -> digest of its bytes
        self._skipped: set[Path] = set()  # read but not parsed (nothing for the story, or unparsable)  # each module -> the first call of the linted file into it

    def target(self, qualified: str, importer: Unit | None) -> Target | None:
        """The function or class a qualified name (`models.build`, `.engine.train_one_epoch`) names in one of
        the project's modules, read from `importer` (None: the linted file)."""
        key = (qualified, importer.path if importer is not None else None)
        if key not in self._targets:
            self._targets[key] = self._follow(qualified, importer, _REEXPORT_HOPS)
        return self._targets[key]

    def _follow(self, qualified: str, importer: Unit | None, hops: int) -> Target | None:
        level = self.units[importer.path][1] if importer is not None else 0
        if level >= MAX_LEVELS:
            return None
        found = split_target(importer.path if importer is not None else self.path, self.root, qualified)
        if found is None or len(found[1]) != 1:
            return None
        path, (name,) = found
        unit = self._open(path, level + 1)
        if unit is None:
            return None
        bindings = unit.facts.module_scope.bindings.get(name, [])
        if len(bindings) != 1:
            return None
        binding = bindings[0]
        if isinstance(binding.node, (cst.FunctionDef, cst.ClassDef)):
            return unit, binding.node
        if binding.kind == "import" and binding.qualified and hops > 0:
            # A package's `__init__` re-exporting it (`from .backbone import build`): read from there.
            return self._follow(binding.qualified, unit, hops - 1)
        return None

    def _open(self, path: Path, level: int) -> Unit | None:
        path = path.resolve()
        if path == self.path:
            return None  # a cycle back into the linted file (`from train import ...` in a helper): an escape
        if path in self.units:
            return self.units[path][0]
        if len(self.units) + len(self._skipped) >= MAX_MODULES or path in self._skipped:
            return None
        unit, digest = _load(path)
        if digest is not None:
            self._read[path] = digest
        if unit is not None:
            self.units[path] = (unit, level)
        else:
            self._skipped.add(path)
        return unit

    def home(self, node: cst.CSTNode) -> Unit | None:
        """The opened module whose function or class `node` is."""
        for unit, _ in self.units.values():
            if node in unit.facts.scopes:
                return unit
        return None

    def anchor_to(self, node: cst.CSTNode, call: cst.CSTNode, unit: Unit) -> None:
        """`node`, of another module, was reached through `call`, in the linted file: a finding there is
        reported at the call. So is a finding at a part of it (an optimizer's parameter argument): the parts of
        a node (up to a few hundred) are anchored with it."""
        stack = [node]
        for _ in range(_ANCHORED_PARTS):
            if not stack:
                break
            current = stack.pop()
            self._anchors.setdefault(id(current), call)
            stack.extend(current.children)
        self._entered.setdefault(unit.path, call)

    def anchor(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """Where in the linted file a finding at `node`, of another module, is reported; None for a node of
        no opened module."""
        if id(node) in self._anchors:
            return self._anchors[id(node)]
        for path, (unit, _) in self.units.items():
            if path in self._entered and unit.line(node) is not None:
                return self._entered[path]
        return None

    def module_of(self, node: cst.CSTNode) -> Path | None:
        """The opened module that holds `node` (any node, not only functions and classes)."""
        for path, (unit, _) in self.units.items():
            if unit.line(node) is not None:
                return path
        return None

    def where(self, node: cst.CSTNode) -> str | None:
        """`models/backbone.py:41` for a node of another module, None for any other node."""
        for unit, _ in self.units.values():
            line = unit.line(node)
            if line is not None:
                try:
                    shown = unit.path.relative_to(self.root).as_posix()
                except ValueError:
                    shown = unit.path.as_posix()
                return f"{shown}:{line}"
        return None

    def digests(self) -> dict[str, str]:
        """Each module read and the digest of its content: a cached result holds only while they are unchanged."""
        return {str(path): digest for path, digest in sorted(self._read.items())}
