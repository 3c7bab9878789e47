"""How many labels a Hugging Face classification model is built with, as far as the file shows it.

`num_labels=N`, an `id2label`/`label2id` map (which wins over `num_labels` in `PretrainedConfig`), the same
arguments on a configuration handed over with `config=`, or the configuration class's default when the
file builds the configuration itself (`BertConfig()`, from the transformers knowledge). A checkpoint's own
configuration is out of sight (it may carry 3, 1000 or no labels), so `from_pretrained(ckpt)` with none of
these is unknown, and so is anything passed through `**kwargs` or changed later (`config.num_labels = 5`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from featlint.analysis import hub_knowledge as hk
from featlint.analysis.calls import keyword
from featlint.analysis.class_counts import count_of, listed_count
from featlint.analysis.hubs import HubKind, HubObject
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst

if TYPE_CHECKING:
    from featlint.analysis import FileAnalysis

# Writes that change the labels after the model or its configuration is built.
_LABELS_CHANGED = re.compile(r"\.\s*(num_labels|id2label|label2id)\s*=[^=]")


@dataclasses.dataclass(frozen=True)
class Labels:
    count: int
    node: cst.CSTNode  # what says it: the `num_labels=` argument, the `id2label=` map, or the configuration call
    said: str  # how the message names it: "`num_labels=2`", "the 3 entries of `id2label`", ...


class _NotGiven:
    """The call names no labels at all (as opposed to naming them in a way featlint cannot evaluate)."""


_NOT_GIVEN = _NotGiven()


def _exact(given: Labels | None | _NotGiven) -> Labels | None:
    """A configuration loaded from a checkpoint that names no labels has the checkpoint's: unknown."""
    return given if isinstance(given, Labels) else None


def model_labels(analysis: FileAnalysis, source: str, model: HubObject) -> Labels | None:
    """The number of labels `model` (a Hugging Face model) is built with; None when the file does not say it
    exactly."""
    if _LABELS_CHANGED.search(source) is not None:
        return None
    scope = analysis.hubs.scope_of(model.call)
    if scope is None:
        return None
    given = _arguments(analysis, model.call, scope)
    if given is not _NOT_GIVEN:
        return _exact(given)
    if model.config is not None:  # from_config / a constructor given a configuration loaded in the file
        return _exact(_arguments(analysis, model.config.call, analysis.hubs.scope_of(model.config.call)))
    passed = keyword(model.call, "config")
    expr = passed.value if passed is not None else None
    if expr is None and model.how in ("from_config", "constructor") and model.call.args:
        expr = model.call.args[0].value
    step = analysis.hubs.step(model.call)
    if expr is None or step is None:
        return None
    held = analysis.hubs.object_of(expr, scope, step)
    if held is not None:  # a configuration from `AutoConfig.from_pretrained`: its arguments, or the checkpoint's
        loaded = held.kind is HubKind.HF_CONFIG
        return _exact(_arguments(analysis, held.call, analysis.hubs.scope_of(held.call))) if loaded else None
    return _built_config(analysis, model, expr, scope)


def _arguments(analysis: FileAnalysis, call: cst.Call, scope: Scope | None) -> Labels | None | _NotGiven:
    """The labels a `from_pretrained`/`from_config`/configuration call's own arguments set."""
    if scope is None or any(arg.star for arg in call.args):
        return None
    for name in ("id2label", "label2id"):
        given = keyword(call, name)
        if given is not None:
            count = listed_count(analysis, given.value, scope)
            return Labels(count, given, f"the {count} entries of `{name}`") if count is not None else None
    given = keyword(call, "num_labels")
    if given is not None:
        count = count_of(analysis, given.value, scope)
        return Labels(count, given, f"`num_labels={count}`") if count is not None else None
    return _NOT_GIVEN


def _built_config(analysis: FileAnalysis, model: HubObject, expr: cst.BaseExpression, scope: Scope) -> Labels | None:
    """A configuration the file builds itself, `BertConfig(...)`: its arguments, or the class's default."""
    built = analysis.inputs.constant(expr, scope)
    if not isinstance(built, cst.Call):
        return None
    name = analysis.names.call_name(built, scope) or ""
    if not (name.startswith("transformers.") and name.endswith("Config") and ".Auto" not in name):
        return None
    given = _arguments(analysis, built, scope)
    if given is not _NOT_GIVEN:
        return _exact(given)
    classifier = hk.hf_classifier(model.library_class)
    if classifier is None:
        return None
    return Labels(classifier.num_labels, built,
                  f"`{name.rsplit('.', 1)[-1]}()`'s default of {classifier.num_labels} labels")

