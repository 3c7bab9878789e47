"""Whether `train()` and `eval()` change what a model computes.

Only some layers behave differently in the two modes: dropout (and stochastic depth, attention dropout, RReLU)
is random in train mode only, and BatchNorm (or an InstanceNorm tracking running statistics) normalises with
the batch and updates its statistics in train mode only. A model with none of them computes the same thing in
both modes, so rules about a forgotten `train()` have nothing to say about it.

Known for a torchvision model built with its default layers (the shipped knowledge says whether it has
BatchNorm or dropout) and for the file's own `nn.Module` whose layers, all assigned in its methods, are torch.nn
layers of known kinds. Anything else (a library model built with other options, a layer passed in, a base
class other than nn.Module, a layer of such a kind put in afterwards) may depend on the mode. Handing the model
to code the file does not show (a plotting or evaluation helper) is not taken to add layers to it.
"""

from __future__ import annotations

import re

from featlint.analysis import torchvision as tv
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, Scope
from featlint.analysis.story import EventKind, Model, Story
from featlint.startup.deferred import cst

# Builder arguments that keep the default layers (others, like ViT's `dropout=`, may add dropout).
_DEFAULT_LAYERS_ARGS = frozenset({"weights", "pretrained", "progress", "num_classes", "weights_backbone"})
# Words that, anywhere in a class's code, may mean a layer or a forward that depends on the mode.
_MODE_WORDS = re.compile(r"drop|norm|training|running|rrelu|transformer", re.IGNORECASE)
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})


def mode_free(model: Model, story: Story, facts: ModuleFacts, names: NameResolver, module: cst.Module) -> bool:
    """`model` is known to compute the same in train and eval mode (see the module doc)."""
    if model.wrapped is not None:
        return mode_free(model.wrapped, story, facts, names, module)
    for head in story.on(model, [EventKind.HEAD]):  # a layer put in (in its own __init__ too)
        if head.layer is None or not _layer_mode_free(head.layer, facts.module_scope, names, module):
            return False
    if model.builder is not None:
        arch = tv.architecture(model.builder)
        return (
            arch is not None and not arch.batchnorm and not arch.dropout and isinstance(model.node, cst.Call)
            and all(a.keyword is not None and a.keyword.value in _DEFAULT_LAYERS_ARGS for a in model.node.args)
        )
    if model.user_class is not None:
        return _class_mode_free(model.user_class, facts, names, module)
    return False


def _class_mode_free(cls: cst.ClassDef, facts: ModuleFacts, names: NameResolver, module: cst.Module) -> bool:
    if _MODE_WORDS.search(module.code_for_node(cls)):
        return False
    if len(cls.bases) != 1 or names.qualified_name(cls.bases[0].value, facts.module_scope) != "torch.nn.Module":
        return False
    return all(
        binding.value is not None and _layer_mode_free(binding.value, binding.scope, names, module)
        for bindings in facts.class_attributes.get(cls, {}).values() for binding in bindings
    )


def _layer_mode_free(expr: cst.BaseExpression, scope: Scope, names: NameResolver, module: cst.Module) -> bool:
    """A torch.nn layer (or a container of them) that behaves the same in both modes, or a plain constant."""
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(expr, cst.Name):
        return expr.value in ("True", "False", "None")
    if not isinstance(expr, cst.Call) or _MODE_WORDS.search(module.code_for_node(expr)):
        return False
    name = names.call_name(expr, scope) or ""
    if not name.startswith("torch.nn."):
        return False
    if name.rsplit(".", 1)[-1] in _CONTAINERS:
        return all(_layer_mode_free(arg.value, scope, names, module) for arg in expr.args if arg.keyword is None)
    return True  # no dropout, norm or transformer layer in its code
