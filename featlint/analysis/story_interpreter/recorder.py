"""The interpreter's shared state and the one way it writes the story: models and events, numbered in the
order the program runs them. Every part of the interpreter (statements, expressions, calls) records through
:class:`Recorder`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from featlint.analysis.names import NameResolver
from featlint.analysis.project import Project, Unit
from featlint.analysis.scopes import ModuleFacts
from featlint.analysis.story import Event, EventKind, Model, Optimizer
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.values import Ref
from featlint.analysis.unknown import Unhandled
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst


# More events than this (a 2,000-line training script records about 800) and the story is dropped: the rules
# compare events pairwise, and a file that large is generated or pathological.
MAX_EVENTS = 2000


class Recorder:
    def __init__(
        self, module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer,
        project: Project | None = None,
    ) -> None:
        # The module whose code is being interpreted: the linted file's, or another project module's while a
        # call into one of its functions runs (see Invocations._inside).
        self.module = module
        self.facts = facts
        self.names = names
        self.values = values
        self.project = project
        self._unit: Unit | None = None  # the other project module being interpreted; None: the linted file
        self._anchor: cst.CSTNode | None = None  # the linted file's call that led into it
        self.events: list[Event] = []
        self.models: list[Model] = []
        self.optimizers: list[Optimizer] = []
        self.reached: set[cst.FunctionDef] = set()
        self._active: list[cst.FunctionDef] = []
        self._invocations: dict[cst.FunctionDef, int] = {}  # how many times each function was interpreted
        self.condition_depths: dict[int, int] = {}
        self._overridden: set[str] | None = None  # attribute names the file assigns (see Expressions)
        self._discarded: cst.BaseExpression | None = None
        self._budget = 0
        self.unhandled: list[Unhandled] = []  # statements given up on (featlint.analysis.unknown)
        self._resumed: frozenset[cst.Call] = frozenset()  # loads of the script's own checkpoint (checkpoints.py)
        self.module_frame = Frame(facts.module_scope, {})
        self.root_frame = self.module_frame
        self._root = (module, facts, names, values)
        self._unit_frames: dict[Path, Frame] = {}  # each other module's own module-level names (unknown values)
        self._resumes_read: set[Path] = set()  # modules whose checkpoint resumes joined `_resumed`
        # Names found under a node by a walk of its subtree, per (purpose, node): libcst's `children` is slow.
        self._walked: dict[tuple[str, int], set[str]] = {}

    def _walk_once(self, purpose: str, node: cst.CSTNode, walk: Callable[[cst.CSTNode], set[str]]) -> set[str]:
        key = (purpose, id(node))
        if key not in self._walked:
            self._walked[key] = walk(node)
        return self._walked[key]

    def _model(self, node: cst.CSTNode, **fields: object) -> Model:
        model = Model(node, **fields)  # type: ignore[arg-type]
        self.models.append(model)
        self._mark_foreign(node)
        return model

    def _event(
        self, kind: EventKind, node: cst.CSTNode, frame: Frame, ref: Ref | None = None,
        conditional: bool | None = None, condition_depth: int | None = None, **fields: object,
    ) -> Event:
        event = Event(
            kind, len(self.events), node,
            model=ref.model if ref is not None else None,
            path=ref.path if ref is not None else (),
            conditional=frame.conditional if conditional is None else conditional,
            loops=frame.loops,
            module_level=frame.scope is self.facts.module_scope,
            assumptions=frame.assumptions,
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        self._mark_foreign(node)
        # How many of the enclosing tests it depends on (a freeze in a loop over parameters: those around the loop).
        self.condition_depths[id(event)] = len(frame.tests) if condition_depth is None else condition_depth
        if len(self.events) >= MAX_EVENTS:
            self._budget = 0  # stop here; run() drops the story
        return event

    def _mark_foreign(self, node: cst.CSTNode) -> None:
        """A node of another module is reported, should a rule report it, at the linted file's call."""
        if self._unit is not None and self._anchor is not None and self.project is not None:
            self.project.anchor_to(node, self._anchor, self._unit)


def code_mentions(module: cst.Module, node: cst.CSTNode | None, word: str) -> bool:
    return node is not None and word in module.code_for_node(node)
