"""What the interpreter does with a statement whose shape it did not expect.

An unexpected shape (an exception while a statement is interpreted) must never take the whole file down: the
statement becomes unknown, exactly like a call into code the file does not show. Its events are taken back,
every name it binds (anywhere inside it, a loop's or a branch's body included, since those were not all
followed) is unknown afterwards, and every model, optimizer or parameter set it mentions has escaped, so the
rules that need to know everything that happened to a model stay silent about it. Precision first: a
statement the interpreter could not follow may have done anything.

The failure itself is kept in the story (:class:`Unhandled`), for the audits and the tests, which expect none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from featlint.startup.deferred import cst


@dataclasses.dataclass(frozen=True)
class Unhandled:
    """A statement the interpreter gave up on, and why (the exception, as `Type: message`)."""

    node: cst.CSTNode
    message: str


def _nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _target_names(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def bound_names(statement: cst.CSTNode) -> set[str]:
    """The plain names `statement` may bind: assignment, loop, `with ... as` and walrus targets at any depth.
    Attributes and items it assigns are not names: their owner is among the mentioned names."""
    names: set[str] = set()
    for node in _nodes(statement):
        if isinstance(node, cst.AssignTarget):
            names.update(_target_names(node.target))
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
            names.update(_target_names(node.target))
        elif isinstance(node, cst.AsName):
            names.update(_target_names(node.name))
    return names


def mentioned_names(statement: cst.CSTNode) -> set[str]:
    """Every name `statement` reads or writes, leaving out attribute names (`x` of `a.x`) and keywords."""
    skipped: set[int] = set()
    names: set[str] = set()
    for node in _nodes(statement):
        if isinstance(node, cst.Attribute):
            skipped.add(id(node.attr))
        elif isinstance(node, cst.Arg) and node.keyword is not None:
            skipped.add(id(node.keyword))
        elif isinstance(node, cst.Name) and id(node) not in skipped:
            names.add(node.value)
    return names
