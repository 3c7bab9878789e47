"""The interpreter's shared state and the one way it writes the story: models and events, numbered in the
order the program runs them. Every part of the interpreter (statements, expressions, calls) records through
:class:`Recorder`."""

from __future__ import annotations

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts
from featlint.analysis.story import Event, EventKind, Model, Optimizer
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.values import Ref
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst


class Recorder:
    def __init__(self, module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer) -> None:
        self.module = module
        self.facts = facts
        self.names = names
        self.values = values
        self.events: list[Event] = []
        self.models: list[Model] = []
        self.optimizers: list[Optimizer] = []
        self.reached: set[cst.FunctionDef] = set()
        self._active: list[cst.FunctionDef] = []
        self._discarded: cst.BaseExpression | None = None
        self._budget = 0
        self.module_frame = Frame(facts.module_scope, {})

    def _model(self, node: cst.CSTNode, **fields: object) -> Model:
        model = Model(node, **fields)  # type: ignore[arg-type]
        self.models.append(model)
        return model

    def _event(
        self, kind: EventKind, node: cst.CSTNode, frame: Frame, ref: Ref | None = None,
        conditional: bool | None = None, **fields: object,
    ) -> Event:
        event = Event(
            kind, len(self.events), node,
            model=ref.model if ref is not None else None,
            path=ref.path if ref is not None else (),
            conditional=frame.conditional if conditional is None else conditional,
            loops=frame.loops,
            module_level=frame.scope is self.facts.module_scope,
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        return event


def code_mentions(module: cst.Module, node: cst.CSTNode | None, word: str) -> bool:
    return node is not None and word in module.code_for_node(node)
