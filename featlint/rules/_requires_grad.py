"""What an assignment meant for `requires_grad` does when it sets something else (a misspelt attribute, a
module's plain attribute), told for the value it assigns: FL101 and FL102 share it."""

from __future__ import annotations

from featlint.analysis.calls import bool_literal
from featlint.analysis.scopes import AttributeStore, Scope
from featlint.context import FileContext
from featlint.startup.deferred import cst


def unchanged(ctx: FileContext, store: AttributeStore, action: str) -> str:
    """`action` (what the line really does), then the consequence for the value assigned: `False` meant to
    freeze, `True` meant to unfreeze (after a freeze), anything else either, depending on its value. An
    augmented assignment (`|=`) reads the attribute first, which does not exist: it raises."""
    if isinstance(store.statement, cst.AugAssign) and store.target.attr.value != "requires_grad_":
        return (
            f"`{ctx.code(store.target)}` does not exist, so reading it for the augmented assignment raises "
            "`AttributeError`"
        )
    flag = _flag(store.value, store.scope, 0)
    if flag is not None and bool_literal(store.value) is None:
        assert store.value is not None
        action = f"{action} (`{ctx.code(store.value)}` is {flag} here)"
    if flag is False:
        return (
            f"{action} and freezes nothing: the parameters keep their `requires_grad` (True unless something else "
            "froze them) and keep training"
        )
    if flag is True:
        return (
            f"{action} and unfreezes nothing: the parameters keep their `requires_grad`, so any that were frozen "
            "stay frozen and never train"
        )
    value = f"`{ctx.code(store.value)}`" if store.value is not None else "the value"
    return (
        f"{action} and changes nothing whatever {value} is: the parameters keep their `requires_grad`, so when it "
        "is False they keep training, and when it is True any that were frozen stay frozen"
    )


def _flag(expr: cst.BaseExpression | None, scope: Scope, depth: int) -> bool | None:
    """The value of a flag the file fixes: a literal, `not` of one, or a name bound once to one
    (`feature_extract = True` ... `= not feature_extract`); None when it can vary."""
    if expr is None or depth > 10:
        return None
    literal = bool_literal(expr)
    if literal is not None:
        return literal
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
        inner = _flag(expr.expression, scope, depth + 1)
        return None if inner is None else not inner
    if isinstance(expr, cst.Name):
        bindings = scope.lookup(expr.value)
        if len(bindings) == 1 and bindings[0].kind == "assign" and not bindings[0].element:
            return _flag(bindings[0].value, bindings[0].scope, depth + 1)
    return None
