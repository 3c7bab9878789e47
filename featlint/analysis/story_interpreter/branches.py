"""`if` statements. A test the file decides (a literal flag, a constant, an argparse default, a function
parameter's default, a value passed down by the caller) is followed: only the arm that runs is interpreted,
and what it records carries the assumption ("`feature_extract` is True") so that a finding can say on which
path it holds. Any other test is undecided: both arms are interpreted, their events conditional, and the
names they bind joined by :mod:`.merging`."""

from __future__ import annotations

import operator
from collections.abc import Callable

from featlint.analysis import calls
from featlint.analysis.scopes import descendants
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.merging import definite_in_both, merge_envs
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import Constant, TupleValue
from featlint.startup.deferred import cst

# A decided test: which way it goes, and the constants that decided it.
Decision = tuple[bool, tuple[Constant, ...]]

_COMPARISONS: dict[type, Callable[[object, object], object]] = {
    cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.Is: operator.is_, cst.IsNot: operator.is_not,
    cst.LessThan: operator.lt, cst.LessThanEqual: operator.le, cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
}


class Branches(Recorder):
    def _if(self, node: cst.If, frame: Frame) -> None:
        if self._is_main_guard(node.test):
            self._block(node.body, frame)
            return
        decision = self._decide(node.test, frame)
        if decision is not None:
            self._follow(node, decision, frame)
            return
        before = dict(frame.env)
        certain = not frame.conditional
        frame.tests.append(node.test)
        start = len(self.events)
        self._block(node.body, frame)
        middle = len(self.events)
        after_body = frame.env
        frame.env = dict(before)
        if isinstance(node.orelse, cst.If):
            self._if(node.orelse, frame)
        elif isinstance(node.orelse, cst.Else):
            self._block(node.orelse.body, frame)
        frame.tests.pop()
        if certain and isinstance(node.orelse, cst.Else):
            depths = self.condition_depths
            first = [e for e in self.events[start:middle] if depths.get(id(e)) == 1]
            second = [e for e in self.events[middle:] if depths.get(id(e)) == 1]
            for event in definite_in_both(first, second):
                event.conditional = False
        frame.env = merge_envs(after_body, frame.env)

    def _follow(self, node: cst.If, decision: Decision, frame: Frame) -> None:
        """Interpret the arm that runs, under the assumption that decided it; the other arm's functions count
        as reached (they run on another path, not as functions nobody calls)."""
        taken, constants = decision
        saved = frame.assumptions
        notes = [c.describe() for c in constants if c.label is not None]
        frame.assumptions = (*saved, *(n for n in dict.fromkeys(notes) if n not in saved))
        skipped: cst.CSTNode | None = node.orelse if taken else node.body
        if taken:
            self._block(node.body, frame)
        elif isinstance(node.orelse, cst.If):
            self._if(node.orelse, frame)
        elif isinstance(node.orelse, cst.Else):
            self._block(node.orelse.body, frame)
        frame.assumptions = saved
        if skipped is not None:
            self._mark_reached(skipped, frame)

    def _mark_reached(self, skipped: cst.CSTNode, frame: Frame) -> None:
        for name in self._walk_once("called", skipped, _called_names):
            for binding in frame.scope.lookup(name):
                if isinstance(binding.node, cst.FunctionDef):
                    self.reached.add(binding.node)

    def _decide(self, test: cst.BaseExpression, frame: Frame) -> Decision | None:
        """Which way `test` goes when every value it reads is a constant; None when it is not known."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self._decide(test.expression, frame)
            return None if inner is None else (not inner[0], inner[1])
        if isinstance(test, cst.BooleanOperation):
            left, right = self._decide(test.left, frame), self._decide(test.right, frame)
            short = not isinstance(test.operator, cst.And)  # the value that ends the evaluation
            for side in (left, right):
                if side is not None and side[0] is short:
                    return side
            if left is None or right is None:
                return None
            return (right[0], left[1] + right[1])
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            return self._compare(test, frame)
        value = self._eval(test, frame)
        if isinstance(value, Constant):
            return (bool(value.value), (value,))
        return None

    def _compare(self, test: cst.Comparison, frame: Frame) -> Decision | None:
        left = self._eval(test.left, frame)
        target = test.comparisons[0]
        right = self._eval(target.comparator, frame)
        if not isinstance(left, Constant):
            return None
        if isinstance(target.operator, (cst.In, cst.NotIn)):
            if not (isinstance(right, TupleValue) and all(isinstance(i, Constant) for i in right.items)):
                return None
            found = any(left.value == item.value for item in right.items)  # type: ignore[union-attr]
            return (found is isinstance(target.operator, cst.In), (left,))
        compare = _COMPARISONS.get(type(target.operator))
        if compare is None or not isinstance(right, Constant):
            return None
        try:
            return (bool(compare(left.value, right.value)), (left, right))
        except TypeError:
            return None

    @staticmethod
    def _is_main_guard(test: cst.BaseExpression) -> bool:
        return (
            isinstance(test, cst.Comparison)
            and isinstance(test.left, cst.Name)
            and test.left.value == "__name__"
            and len(test.comparisons) == 1
            and calls.string_literal(test.comparisons[0].comparator) == "__main__"
        )


def _called_names(node: cst.CSTNode) -> set[str]:
    """The plain names called anywhere under `node` (`train(...)`, not `self.train(...)`)."""
    return {
        current.func.value for current in descendants(node)
        if isinstance(current, cst.Call) and isinstance(current.func, cst.Name)
    }
