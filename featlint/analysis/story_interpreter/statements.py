"""Walking statements: blocks, assignments and returns, `if` (both arms, their names joined by
:mod:`.merging`), loops (a loop body also runs after what follows it), `try`, `match`, and `with` blocks that
switch gradients off or on."""

from __future__ import annotations

from collections.abc import Sequence

from featlint.analysis import calls
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.merging import merge_envs
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import (
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
            self._statement(statement, frame)

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
                frame.tests.append(None)
                self._block(handler.body, frame)
                frame.tests.pop()
            if node.orelse is not None:
                self._block(node.orelse.body, frame)
            if node.finalbody is not None:
                self._block(node.finalbody.body, frame)
        elif isinstance(node, cst.Match):
            self._eval(node.subject, frame)
            for case in node.cases:
                frame.tests.append(None)
                self._block(case.body, frame)
                frame.tests.pop()

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

    def _if(self, node: cst.If, frame: Frame) -> None:
        if self._is_main_guard(node.test):
            self._block(node.body, frame)
            return
        self._eval(node.test, frame)
        before = dict(frame.env)
        frame.tests.append(node.test)
        self._block(node.body, frame)
        after_body = frame.env
        frame.env = dict(before)
        if isinstance(node.orelse, cst.If):
            self._if(node.orelse, frame)
        elif isinstance(node.orelse, cst.Else):
            self._block(node.orelse.body, frame)
        frame.tests.pop()
        frame.env = merge_envs(after_body, frame.env)

    @staticmethod
    def _is_main_guard(test: cst.BaseExpression) -> bool:
        return (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and test.left.value == "__name__"
            and len(test.comparisons) == 1
            and calls.string_literal(test.comparisons[0].comparator) == "__main__"
        )

    def _for(self, node: cst.For, frame: Frame) -> None:
        iterable = self._eval(node.iter, frame)
        if isinstance(iterable, ParamsValue) and iterable.generator:
            self._consume(iterable, node.iter)
        self._bind_loop_target(node.target, iterable, frame)
        self._loop_body(node, node.body, frame, conditional=False)
        if node.orelse is not None:
            frame.tests.append(None)
            self._block(node.orelse.body, frame)
            frame.tests.pop()

    def _loop_body(self, loop: cst.CSTNode, body: cst.BaseSuite, frame: Frame, *, conditional: bool) -> None:
        saved = frame.loops
        frame.loops = (*saved, loop)
        if conditional:
            frame.tests.append(None)
        self._block(body, frame)
        if conditional:
            frame.tests.pop()
        frame.loops = saved

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
