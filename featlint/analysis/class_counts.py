"""How many classes a script says it has, and integer counts written as constants or lengths.

A head sized for the wrong number of classes (FL306, a torchvision head; FL907, a Hugging Face `num_labels`)
is only a mistake against the script's own word: a `NUM_CLASSES` constant, a list of class or label names, a
`num_classes=` argument, a torchvision data set whose classes are known. Both rules ask here, so both read
the same declarations and stay silent on the same unknowns.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from featlint.analysis.calls import keyword
from featlint.analysis.datasets import class_count, dataset_name
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst

if TYPE_CHECKING:
    from featlint.analysis import FileAnalysis

# Names under which scripts declare how many classes they have.
CLASS_COUNT_NAMES = frozenset({
    "num_classes", "NUM_CLASSES", "n_classes", "N_CLASSES", "nb_classes", "NB_CLASSES", "num_class", "NUM_CLASS",
    "num_labels", "NUM_LABELS",
})
# Names under which scripts list their classes (`classes = ("plane", "car", ...)`, `id2label = {0: "neg", ...}`).
# Plain `labels` is not one: scripts bind it to batches of targets.
CLASS_LIST_NAMES = frozenset({
    "classes", "CLASSES", "class_names", "CLASS_NAMES", "LABELS", "label_list", "LABEL_LIST", "label_names",
    "LABEL_NAMES", "id2label", "ID2LABEL", "label2id", "LABEL2ID",
})
# Text that shows the targets of a data set being remapped or subset (two classes picked out of CIFAR10):
# the data set's own class count is then not what the head needs.
_RELABELLING = (".targets", ".labels", "Subset", "target_transform", "class_to_idx")


@dataclasses.dataclass(frozen=True)
class Declared:
    count: int
    node: cst.CSTNode
    label: str
    name: str | None = None  # the constant, for the fix hint


def declared_classes(analysis: FileAnalysis, source: str, sizing: frozenset[int] = frozenset()) -> Declared | None:
    """The number of classes every declaration of the file agrees on; None when any is unknown or they differ.

    `sizing`: the ids of `num_classes=` arguments that size the very heads being checked (timm's
    `create_model(..., num_classes=N)`), which are not a declaration to check them against."""
    found: list[Declared] = []
    for scope in analysis.facts.scopes.values():
        # The scope's own order (the order of the source), not a set's: the message cites the first declaration,
        # and a set's order changes with the process's hash seed.
        for name in [n for n in scope.bindings if n in CLASS_COUNT_NAMES or n in CLASS_LIST_NAMES]:
            listed = name in CLASS_LIST_NAMES
            for binding in scope.bindings[name]:
                if binding.kind == "param":
                    continue  # plumbing: the value comes from the caller
                plain = binding.kind == "assign" and not binding.element
                count = (listed_count(analysis, binding.value, binding.scope) if listed else
                         count_of(analysis, binding.value, binding.scope)) if plain else None
                if count is None:
                    return None
                label, hint = (f"the {count} names in `{name}`", f"len({name})") if listed else (f"`{name}`", name)
                found.append(Declared(count, binding.node, label, hint))
    for site in analysis.facts.calls:
        given = keyword(site.node, "num_classes")
        if given is None or id(given) in sizing:
            continue
        count = count_of(analysis, given.value, site.scope)
        if count == 0:
            continue  # `timm.create_model(..., num_classes=0)`: no classifier at all, a feature extractor
        if count is None:
            return None
        callee = analysis.names.call_name(site.node, site.scope)
        found.append(Declared(count, given, f"`num_classes=` of `{(callee or 'a call').rsplit('.', 1)[-1]}`"))
    if not any(word in source for word in _RELABELLING):
        found.extend(_datasets(analysis))
    counts = {declared.count for declared in found}
    return found[0] if len(counts) == 1 else None


def _datasets(analysis: FileAnalysis) -> list[Declared]:
    """The torchvision data sets the file builds, with their class counts; none at all when one of them has
    classes featlint cannot tell (an ImageFolder): the head may be meant for that one."""
    found = []
    for site in analysis.facts.calls:
        name = dataset_name(analysis.names, site.node, site.scope)
        if name is None or keyword(site.node, "num_classes") is not None:
            continue  # not a data set, or FakeData(num_classes=...), a declaration of its own
        count = class_count(analysis.names, site.node, site.scope)
        if count is None:
            return []
        found.append(Declared(count, site.node, f"`{name}` has {count} classes"))
    return found


def count_of(analysis: FileAnalysis, expr: cst.BaseExpression | None, scope: Scope) -> int | None:
    """A literal count: an integer (or a constant), `len()` of a literal list or dict (or a name bound once to
    one), or `len(<torchvision data set>.classes)`."""
    if expr is None:
        return None
    if isinstance(expr, cst.Call) and analysis.names.call_name(expr, scope) == "builtins.len" and len(expr.args) == 1:
        return listed_count(analysis, expr.args[0].value, scope)
    if isinstance(expr, cst.Name):
        bindings = scope.lookup(expr.value)
        if len(bindings) == 1 and bindings[0].kind == "assign" and not bindings[0].element:
            return count_of(analysis, bindings[0].value, bindings[0].scope)
        return None
    return analysis.architectures.size(expr, scope)


def listed_count(analysis: FileAnalysis, expr: cst.BaseExpression | None, scope: Scope) -> int | None:
    """How many classes a sequence names: a literal list, tuple or dict (or a name bound once to one), or the
    `.classes` (or `.class_to_idx`) of a torchvision data set whose classes are known
    (`datasets.CIFAR10(...).classes`)."""
    if expr is None:
        return None
    value = analysis.inputs.constant(expr, scope)
    if isinstance(value, (cst.List, cst.Tuple)) and all(isinstance(e, cst.Element) for e in value.elements):
        return len(value.elements)
    if isinstance(value, cst.Dict) and all(isinstance(e, cst.DictElement) for e in value.elements):
        return len(value.elements)
    if isinstance(value, cst.Attribute) and value.attr.value in ("classes", "class_to_idx"):
        built = analysis.inputs.constant(value.value, scope)
        if isinstance(built, cst.Call):
            return class_count(analysis.names, built, scope)
    return None
