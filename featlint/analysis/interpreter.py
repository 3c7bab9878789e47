"""The abstract interpreter that writes the model story (see :mod:`featlint.analysis.story`).

It executes the file's statements in order over abstract values (a model and a path inside it, the
parameters of a module, an optimizer, a loss tensor...), records an event for everything that matters to
training, and steps into the file's own functions and classes where they are called. Anything it cannot
follow becomes "unknown" and records nothing: rules only ever see what the interpreter is sure of.

The parts live in :mod:`featlint.analysis.story_interpreter`, one module per concern; this module puts them
together and is the entry the rest of featlint uses (:func:`build_story`).
"""

from __future__ import annotations

from featlint.analysis import checkpoints
from featlint.analysis.names import NameResolver
from featlint.analysis.project import Project
from featlint.analysis.scopes import ModuleFacts
from featlint.analysis.story import Story
from featlint.analysis.story_interpreter.assignments import Assignments
from featlint.analysis.story_interpreter.branches import Branches
from featlint.analysis.story_interpreter.expressions import Expressions
from featlint.analysis.story_interpreter.hub_calls import HubCalls
from featlint.analysis.story_interpreter.invocations import Invocations
from featlint.analysis.story_interpreter.library_calls import LibraryCalls
from featlint.analysis.story_interpreter.lightning import LightningCalls
from featlint.analysis.story_interpreter.methods import Methods
from featlint.analysis.story_interpreter.statements import Statements
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst

_TORCH_ROOTS = ("torch", "torchvision", "timm", "lightning", "pytorch_lightning", "transformers", "peft")


class Interpreter(
    Statements, Branches, Assignments, Expressions, Methods, LibraryCalls, HubCalls, LightningCalls, Invocations,
):
    """One interpretation of one file; each base class is one concern (see the package's docstring)."""

    def run(self) -> Story:
        if not self._uses_torch():
            return Story([], [], [])
        self._budget = 40 * max(1, len(self.facts.calls)) + 2000
        self._resumed = checkpoints.resumed_loads(self.facts, self.names)
        self._block(self.module.body, self.module_frame)
        for node, scope in list(self.facts.scopes.items()):
            if isinstance(node, cst.FunctionDef) and node not in self.reached and self._budget > 0:
                self._standalone(node, scope)
        if self._budget <= 0:
            return Story([], [], [], self.unhandled)  # a story cut short could miss the statement that clears a finding
        return Story(self.events, self.models, self.optimizers, self.unhandled)

    def _uses_torch(self) -> bool:
        for scope in self.facts.scopes.values():
            for bindings in scope.bindings.values():
                for binding in bindings:
                    if binding.kind == "import" and (binding.qualified or "").split(".")[0] in _TORCH_ROOTS:
                        return True
        return any(module.split(".")[0] in _TORCH_ROOTS for module in self.facts.star_imports)


def build_story(
    module: cst.Module, facts: ModuleFacts, names: NameResolver, values: ValueAnalyzer, project: Project | None = None,
) -> Story:
    """`project`: the project around the linted file, whose modules calls step into (None: the file alone)."""
    return Interpreter(module, facts, names, values, project).run()
