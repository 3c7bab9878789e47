"""Edits that several rules' fixes share."""

from __future__ import annotations

from featlint.analysis.scopes import AttributeStore
from featlint.context import FileContext
from featlint.diagnostics import Edit


def assignment_to_requires_grad_call(ctx: FileContext, store: AttributeStore) -> list[Edit]:
    """`<obj>.requires_grad = value` (or `requires_grad_ = value`) -> `<obj>.requires_grad_(value)`.

    Only a plain one-target `=` statement can be rewritten whole; anything else gets no fix.
    """
    if not store.sole_target or store.value is None:
        return []
    receiver = ctx.code(store.target.value)
    return [ctx.replace(store.statement, f"{receiver}.requires_grad_({ctx.code(store.value)})")]
