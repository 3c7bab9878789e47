"""The project's own modules a linted file calls into: found, parsed and analysed on demand, so that the model
story continues through `build_model(cfg)` or `train_one_epoch(model, ...)` written in another file.

Each module is read and parsed at most once per process (:data:`_READ`, keyed by path, size and mtime) and
each linted file may open at most :data:`MAX_MODULES` of them, :data:`MAX_LEVELS` imports away from it: past
a budget a call is an escape, as a call into code featlint cannot see always was. Findings stay in the linted
file; a node of another module is cited as `models/backbone.py:41` (:meth:`Project.where`) and reported at
the linted file's call that led into it (:meth:`Project.anchor`).
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from collections import OrderedDict
from pathlib import Path

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, collect
from featlint.analysis.values import ValueAnalyzer
from featlint.reading.nesting import check_depth
from featlint.reading.piecewise import parse_module
from featlint.reading.project import ABSENT, content_digest, project_root, split_target
from featlint.reading.source import UnreadableSource, decode_source, read_bytes
from featlint.startup.deferred import cst

MAX_MODULES = 20  # project modules opened for one linted file
MAX_LEVELS = 2  # imports followed away from the linted file (train.py -> engine.py -> utils.py)
# A larger module (about 1,500 lines) is generated code or a library vendored into the project, not a training
# helper: it is hashed (a cached result goes stale when it changes) but never parsed, and calls into it are
# escapes. The labelled projects' largest module is 22 KB; torch's own modules between 64 and 150 KB were
# half of the cost of following imports through torch as a project (benchmarks/results/corpus-project-*).
MAX_FILE_BYTES = 64_000
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
# A module whose text has none of these records nothing in a story: it is not parsed (its calls are escapes).
# A package's `__init__.py` is parsed anyway, for its re-exports.
_STORY_WORDS = (b"torch", b"timm", b"lightning", b"transformers", b"peft", b"requires_grad", b"parameters", b".train(", b".eval(")


@dataclasses.dataclass(eq=False)
class _Read:
    """A module read from disk, before libcst sees it. Python's own parser (a tenth of libcst's cost, and run
    anyway to refuse too deep nesting) says which names the module defines or imports anywhere; a call whose
    name is none of them cannot reach a function or class there, so libcst parses the module only when a call
    names one of them (most imported names of a library-sized project are constants, types or nothing the
    story steps into)."""

    path: Path
    digest: str
    text: str | None  # None: the module cannot matter to a story (too large, no story word, unreadable)
    names: frozenset[str] | None = None  # None: Python's parser refused it (libcst may accept newer syntax)
    parsed: bool = False
    unit: Unit | None = None

    def unit_for(self, name: str) -> Unit | None:
        """The parsed module, when `name` may be a function, class or import in it; parsed at most once."""
        if self.parsed:
            return self.unit
        if self.text is None or self.names is not None and name not in self.names and self.path.name != "__init__.py":
            return None
        self.parsed = True
        self.unit = _parse(self.path, self.text)
        self.text = None  # the tree replaces it
        return self.unit


def _parse(path: Path, text: str) -> Unit | None:
    try:
        module = parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None  # a module featlint cannot read is opaque, like a library: never a problem of the linted file
    facts = collect(module)
    names = NameResolver(facts)
    return Unit(path, module, facts, names, ValueAnalyzer(facts, names))


def _defined_names(tree: ast.Module) -> frozenset[str]:
    """Every name a `def`, `class` or import binds anywhere in the module: a superset of the module-level
    functions, classes and re-exports libcst's analysis would find."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(found)


# Each module read, keyed by path, size and mtime: a run reads and parses it at most once per process.
_READ: OrderedDict[tuple[str, int, int], _Read] = OrderedDict()


def _read(path: Path) -> _Read | None:
    """The module at `path` (None when it cannot be read). A module over MAX_FILE_BYTES is hashed but never
    parsed: its calls are escapes, and the digest makes a cached result stale once it is edited."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _READ:
        _READ.move_to_end(key)
        return _READ[key]
    try:
        data = read_bytes(path)
    except UnreadableSource:
        return None
    read = _Read(path, content_digest(data), None)
    relevant = path.name == "__init__.py" or any(word in data for word in _STORY_WORDS)
    if relevant and stat.st_size <= MAX_FILE_BYTES:
        try:
            text = decode_source(data)
            tree = check_depth(text)  # nesting too deep for the native parser (it would crash) is refused first
            read.text, read.names = text, _defined_names(tree) if tree is not None else None
        except (UnreadableSource, RecursionError, ValueError):
            pass
    _READ[key] = read
    while len(_READ) > _CACHE_SIZE:
        _READ.popitem(last=False)
    return read


class Project:
    """The project modules one linted file reaches, within its budgets."""

    def __init__(self, path: Path, src: tuple[Path, ...] = ()) -> None:
        self.path = path.resolve()
        self.root = project_root(self.path)
        self.src = src  # the configured roots of absolute imports
        self.units: dict[Path, tuple[Unit, int]] = {}  # each parsed module and how many imports away it is
        self._anchors: dict[int, cst.CSTNode] = {}  # a node of another module -> the linted file's call
        self._targets: dict[tuple[str, Path | None], Target | None] = {}
        self._entered: dict[Path, cst.CSTNode] = {}  # each module -> the first call of the linted file into it
        self._read: dict[Path, str] = {}  # every module read (also those not parsed) -> digest of its bytes
        # Every module opened (None: unreadable) and how many imports away: MAX_MODULES bounds them all.
        self._opened: dict[Path, tuple[_Read | None, int]] = {}
        self._absent: set[Path] = set()  # module files an import was looked for in and that did not exist

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
        # Module files looked for and not found: created later, they change the result (unless the name is
        # the standard library's, which no project shadows).
        absent: list[Path] | None = None if qualified.split(".")[0] in sys.stdlib_module_names else []
        found = split_target(
            importer.path if importer is not None else self.path, self.root, qualified, self.src, absent
        )
        self._absent.update(absent or ())
        if found is None or len(found[1]) != 1:
            return None
        path, (name,) = found
        unit = self._open(path, level + 1, name)
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

    def _open(self, path: Path, level: int, name: str) -> Unit | None:
        """The module at `path`, parsed when `name` may be defined there; within the budget of modules read."""
        path = path.resolve()
        if path == self.path:
            return None  # a cycle back into the linted file (`from train import ...` in a helper): an escape
        if path not in self._opened:
            if len(self._opened) >= MAX_MODULES:
                return None
            read = _read(path)
            self._opened[path] = (read, level)
            if read is not None:
                self._read[path] = read.digest
        read, level = self._opened[path]
        unit = read.unit_for(name) if read is not None else None
        if unit is not None:
            self.units.setdefault(path, (unit, level))
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
        path = self.module_of(node)
        return self._entered.get(path) if path is not None else None

    def module_of(self, node: cst.CSTNode) -> Path | None:
        """The opened module that holds `node` (any node, not only functions and classes)."""
        for path, (unit, _) in self.units.items():
            if unit.line(node) is not None:
                return path
        return None

    def where(self, node: cst.CSTNode) -> str | None:
        """`models/backbone.py:41` for a node of another module, None for any other node."""
        path = self.module_of(node)
        if path is None:
            return None
        unit = self.units[path][0]
        try:
            shown = unit.path.relative_to(self.root).as_posix()
        except ValueError:
            shown = unit.path.as_posix()
        return f"{shown}:{unit.line(node)}"

    def digests(self) -> dict[str, str]:
        """Each module read and the digest of its content, and each module file looked for in vain (ABSENT): a
        cached result holds only while they are unchanged, and none of those has been created."""
        found = {str(path): digest for path, digest in self._read.items()}
        found.update((str(path), ABSENT) for path in self._absent if str(path) not in found)
        return dict(sorted(found.items()))
