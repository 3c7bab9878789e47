"""Walking statements: blocks, assignments and returns, loops (a loop body also runs after what follows it),
`try`, `match`, and `with` blocks that switch gradients off or on. `if` statements are :mod:`.branches`'."""

from __future__ import annotations

from collections.abc import Sequence

from featlint.analysis import calls, unknown
from featlint.analysis.scopes import descendants
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import (
    Constant,
    Enumerated,
    ModuleIter,
    ModuleVar,
    ParamsValue,
    ParamVar,
    Tensor,
    TupleValue,
)
from featlint.startup.deferred import cst

NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                     "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"})


class Statements(Recorder):
    def _block(self, body: Sequence[cst.CSTNode] | cst.BaseSuite, frame: Frame) -> None:
        if isinstance(body, cst.IndentedBlock):
            statements: Sequence[cst.CSTNode] = body.body
        elif isinstance(body, cst.SimpleStatementSuite):
            statements = body.body
        elif isinstance(body, cst.BaseSuite):
            statements = ()
        else:
            statements = body
        for statement in statements:
            if self._budget <= 0:
                return
            self._budget -= 1
            self._guarded(statement, frame)

    def _guarded(self, statement: cst.CSTNode, frame: Frame) -> None:
        """One statement; a shape the interpreter did not expect makes it unknown, never a crash (see
        :mod:`featlint.analysis.unknown`)."""
        marks = (len(self.events), len(self.models), len(self.optimizers), len(frame.tests), frame.loops, frame.no_grad)
        try:
            self._statement(statement, frame)
        except RecursionError:  # too deep for Python itself: the engine reports the file as FL001
            raise
        except Exception as error:  # noqa: BLE001 - one statement must never take the file's analysis down
            events, models, optimizers, tests, frame.loops, frame.no_grad = marks
            del self.events[events:], self.models[models:], self.optimizers[optimizers:], frame.tests[tests:]
            self.unhandled.append(unknown.Unhandled(statement, f"{type(error).__name__}: {error}"))
            for name in sorted(unknown.mentioned_names(statement)):
                self._escape_value(statement, self._lookup(name, frame), frame)
            for name in unknown.bound_names(statement):
                frame.env[name] = None

    def _statement(self, node: cst.CSTNode, frame: Frame) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self._small(small, frame)
        elif isinstance(node, cst.BaseSmallStatement):
            self._small(node, frame)
        elif isinstance(node, cst.If):
            self._if(node, frame)
        elif isinstance(node, cst.For):
            self._for(node, frame)
        elif isinstance(node, cst.While):
            self._eval(node.test, frame)
            self._loop_body(node, node.body, frame, conditional=True)
        elif isinstance(node, cst.With):
            self._with(node, frame)
        elif isinstance(node, cst.Try):
            self._block(node.body, frame)
            for handler in node.handlers:
                self._undecided(handler.body, frame)
            if node.orelse is not None:
                self._block(node.orelse.body, frame)
            if node.finalbody is not None:
                self._block(node.finalbody.body, frame)
        elif isinstance(node, cst.Match):
            self._eval(node.subject, frame)
            for case in node.cases:
                self._undecided(case.body, frame)

    def _small(self, node: cst.BaseSmallStatement, frame: Frame) -> None:
        if isinstance(node, cst.Expr):
            self._discarded = node.value
            self._eval(node.value, frame)
        elif isinstance(node, cst.Assign):
            if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and node.targets[0].target.value == "_":
                self._discarded = node.value
            value = self._eval(node.value, frame)
            for target in node.targets:
                self._assign(target.target, value, node.value, frame)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            self._assign(node.target, self._eval(node.value, frame), node.value, frame)
        elif isinstance(node, cst.AugAssign):
            value = self._eval(node.value, frame)
            if isinstance(node.target, cst.Name):
                current = frame.env.get(node.target.value)
                frame.env[node.target.value] = (
                    current if isinstance(current, Tensor) and isinstance(value, Tensor) else None
                )
        elif isinstance(node, cst.Return) and node.value is not None:
            frame.returned.append(self._eval(node.value, frame))

    def _for(self, node: cst.For, frame: Frame) -> None:
        iterable = self._eval(node.iter, frame)
        if isinstance(iterable, ParamsValue) and iterable.generator:
            self._consume(iterable, node.iter)
        self._bind_loop_target(node.target, iterable, frame)
        self._loop_body(node, node.body, frame, conditional=False)
        if node.orelse is not None:
            self._undecided(node.orelse.body, frame)

    def _loop_body(self, loop: cst.CSTNode, body: cst.BaseSuite, frame: Frame, *, conditional: bool) -> None:
        # A constant bound once in its scope cannot be rebound by the loop: only the others need the walk.
        bindings = frame.scope.bindings
        if any(isinstance(v, Constant) and len(bindings.get(n, ())) > 1 for n, v in frame.env.items()):
            for name in self._walk_once("rebound", body, _rebound_names):
                if isinstance(frame.env.get(name), Constant):
                    frame.env[name] = None  # the body runs again with whatever it stored: no longer a constant
        saved = frame.loops
        frame.loops = (*saved, loop)
        if conditional:
            self._undecided(body, frame)
        else:
            self._block(body, frame)
        frame.loops = saved

    def _undecided(self, body: cst.BaseSuite, frame: Frame) -> None:
        """A body that may or may not run (an except handler, a match case, a loop's else or a while's body),
        under a test the file cannot decide: what it does holds on some paths only."""
        frame.tests.append(None)
        self._block(body, frame)
        frame.tests.pop()

    def _bind_loop_target(self, target: cst.BaseExpression, iterable: object, frame: Frame) -> None:
        depth = len(frame.tests)
        element: object = None
        if isinstance(iterable, Enumerated):
            if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                self._assign(target.elements[0].value, None, None, frame)
                self._bind_loop_target(target.elements[1].value, iterable.inner, frame)
                return
        elif isinstance(iterable, ParamsValue):
            element = ParamVar(iterable.params, depth)
            if iterable.named:
                element = TupleValue((None, element))
        elif isinstance(iterable, ModuleIter):
            element = ModuleVar(iterable.ref, depth)
            if iterable.named:
                element = TupleValue((None, element))
        self._assign(target, element, None, frame)

    def _with(self, node: cst.With, frame: Frame) -> None:
        saved = frame.no_grad
        for item in node.items:
            grad = self._grad_context(item.item, frame)
            if grad is None:
                self._eval(item.item, frame)
            else:
                frame.no_grad = grad
            if item.asname is not None:
                self._assign(item.asname.name, None, None, frame)
        self._block(node.body, frame)
        frame.no_grad = saved

    def _grad_context(self, expr: cst.BaseExpression, frame: Frame) -> bool | None:
        """True/False for a context that disables/enables gradients, None for any other context."""
        if not isinstance(expr, cst.Call):
            return None
        name = self.names.call_name(expr, frame.scope)
        if name in NO_GRAD:
            return True
        if name in ("torch.set_grad_enabled", "torch.enable_grad"):
            if name == "torch.enable_grad":
                return False
            flag = calls.bool_literal(expr.args[0].value) if expr.args else None
            return None if flag is None else not flag
        return None

    def _no_grad_decorated(self, node: cst.FunctionDef) -> bool:
        scope = self.facts.module_scope
        for decorator in node.decorators:
            expr = decorator.decorator
            target = expr.func if isinstance(expr, cst.Call) else expr
            if self.names.qualified_name(target, scope) in NO_GRAD:
                return True
        return False


def _rebound_names(body: cst.CSTNode) -> set[str]:
    """The plain names a loop body assigns (`x = ...`, `x += ...`, `for x in ...`, `x := ...`)."""
    found: set[str] = set()
    for node in descendants(body, stop=(cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
            found.update(n.value for n in _names_in(node.target))
    return found


def _names_in(target: cst.CSTNode) -> list[cst.Name]:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _names_in(element.value)]
    return []
