"""The file's own functions and classes: a call interprets the callee's body with the arguments bound (its
events recorded at the call, its return value handed back), a class call runs `__init__` on a new instance,
and a function nobody calls is interpreted on its own with unknown models for parameters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from featlint.analysis import calls, checkpoints
from featlint.analysis.project import Unit
from featlint.analysis.scopes import Scope, method_of
from featlint.analysis.story import EventKind
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.lifetimes import declares_global, kept
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import Constant, FunctionRef, Namespace, Ref
from featlint.startup.deferred import cst

MAX_DEPTH = 4  # nested calls into the file's own functions
# Each function is interpreted anew for every call (its arguments differ), up to this many times; later calls
# are escapes. Keeps functions that call each other from multiplying (3 callees, 4 deep: 81 bodies per call).
MAX_CALLS_PER_FUNCTION = 16


class Invocations(Recorder):
    def _standalone(self, node: cst.FunctionDef, scope: Scope) -> None:
        """A function nobody calls in this file: its parameters are models we know nothing about."""
        self.reached.add(node)
        env: dict[str, object] = {}
        params = [*node.params.posonly_params, *node.params.params, *node.params.kwonly_params]
        for index, param in enumerate(params):
            name = param.name.value
            if index == 0 and scope.owner_class is not None:
                env[name] = self._instance(scope.owner_class, node)
            elif param.default is None:
                env[name] = Ref(self._model(param, from_parameter=True))
        frame = Frame(scope, env, no_grad=self._no_grad_decorated(node))
        self._block(node.body, frame)

    def _instance(self, cls: cst.ClassDef, node: cst.CSTNode) -> object:
        if self.values.is_module_class(cls):
            return Ref(self._model(node, user_class=cls))
        return Namespace(cls)

    def _invoke(self, function: FunctionRef, call: cst.Call, args: list[object], frame: Frame) -> object:
        node = function.node
        home = self._home(node)
        if home is not self._unit:
            with self._inside(home, call):
                return self._invoke(function, call, args, frame)
        if isinstance(node, cst.ClassDef):
            return self._construct(node, call, args, frame)
        calls_so_far = self._invocations.get(node, 0)
        too_many = calls_so_far >= MAX_CALLS_PER_FUNCTION
        if node in self._active or frame.depth >= MAX_DEPTH or self._budget <= 0 or too_many:
            self._escape(call, args, frame)
            return None
        self._invocations[node] = calls_so_far + 1
        scope = self.facts.scopes.get(node)
        if scope is None:
            return None
        self.reached.add(node)
        env = self._bind_arguments(node, call, args, function.bound)
        callee = Frame(
            scope, env, inherited_condition=frame.conditional, loops=frame.loops,
            no_grad=frame.no_grad or self._no_grad_decorated(node), depth=frame.depth + 1,
            assumptions=frame.assumptions,
        )
        first_optimizer = len(self.optimizers)
        self._active.append(node)
        try:
            self._block(node.body, callee)
        finally:
            self._active.pop()
        results = callee.returned
        if not declares_global(scope):
            alive = kept([
                *results, *args, function.bound, *self.module_frame.env.values(), *self.root_frame.env.values(),
            ])
            for optimizer in self.optimizers[first_optimizer:]:
                if optimizer.dead_after is None and id(optimizer) not in alive:
                    optimizer.dead_after = len(self.events)
        if len(results) == 1 or (results and all(r is results[0] for r in results)):
            return results[0]
        return None

    def _home(self, node: cst.FunctionDef | cst.ClassDef) -> Unit | None:
        """The project module a function or class is written in; None for the linted file's own."""
        if self.project is None or self._unit is None and node in self.facts.scopes:
            return None
        if self._unit is not None and node in self._unit.facts.scopes:
            return self._unit
        return self.project.home(node)

    @contextmanager
    def _inside(self, unit: Unit | None, call: cst.Call) -> Iterator[None]:
        """Interpret code of another module (`unit`; None: back in the linted file) with that module's names,
        facts and module-level values; what it records continues the same story."""
        saved = (
            self.module, self.facts, self.names, self.values, self.module_frame, self._overridden, self._unit,
            self._anchor,
        )
        if unit is None:
            self.module, self.facts, self.names, self.values = self._root
            self.module_frame = self.root_frame
        else:
            self.module, self.facts, self.names, self.values = unit.module, unit.facts, unit.names, unit.values
            self.module_frame = self._unit_frames.get(unit.path) or Frame(unit.facts.module_scope, {})
            self._unit_frames[unit.path] = self.module_frame
            if unit.path not in self._resumes_read:
                self._resumes_read.add(unit.path)
                self._resumed = self._resumed | checkpoints.resumed_loads(unit.facts, unit.names)
            self._anchor = self._anchor or call
        self._overridden = None
        self._unit = unit
        try:
            yield
        finally:
            (self.module, self.facts, self.names, self.values, self.module_frame, self._overridden, self._unit,
             self._anchor) = saved

    def _construct(self, cls: cst.ClassDef, call: cst.Call, args: list[object], frame: Frame) -> object:
        instance = self._instance(cls, call)
        if isinstance(instance, Ref):
            self._event(EventKind.BUILD, call, frame, instance)
        init = method_of(cls, "__init__")
        if init is not None:
            self._invoke(FunctionRef(init, instance), call, args, frame)
        return instance

    @staticmethod
    def _bind_arguments(node: cst.FunctionDef, call: cst.Call, args: list[object], bound: object) -> dict[str, object]:
        params = [*node.params.posonly_params, *node.params.params]
        env: dict[str, object] = {}
        if bound is not None and params:
            env[params[0].name.value] = bound
            params = params[1:]
        positional = [value for arg, value in zip(call.args, args) if arg.keyword is None and not arg.star]
        if any(arg.star for arg in call.args):
            return env
        for param, value in zip(params, positional):
            env[param.name.value] = value
        names = {p.name.value for p in (*params, *node.params.kwonly_params)}
        for arg, value in zip(call.args, args):
            if arg.keyword is not None and arg.keyword.value in names:
                env[arg.keyword.value] = value
        for param in (*params, *node.params.kwonly_params):
            written = calls.literal(param.default) if param.default is not None else None
            if param.name.value not in env and written is not None:
                env[param.name.value] = Constant(written[0], param.name.value, default=True)
        return env
