"""What featlint knows about timm, Hugging Face transformers and PEFT, without importing any of them.

The facts come from `data/timm.json`, `data/transformers.json` and `data/peft.json`, generated from the
libraries pinned by the `dev` extra by `scripts/gen_hub_knowledge.py` (models built without weights, on the
meta device). Each file is read on the first question about its library, so a file that uses none of them
loads none, and one that uses only PEFT loads only PEFT's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featlint.analysis.torchvision import expand_parameter_tree

_DATA = Path(__file__).parents[1] / "data"


@functools.cache
def _load(library: str) -> Mapping[str, Any]:
    # A path beside the package rather than importlib.resources (see torchvision.py).
    loaded: Mapping[str, Any] = json.loads((_DATA / f"{library}.json").read_text(encoding="utf-8"))
    return loaded


# --- transformers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HfClassifier:
    """A transformers classification class as its default configuration builds it."""

    name: str  # e.g. "RobertaForSequenceClassification"
    task: str  # SequenceClassification, TokenClassification or ImageClassification
    model_type: str  # the configuration's model_type, e.g. "roberta"
    backbone: str | None  # the attribute holding the base model (base_model_prefix), e.g. "roberta"
    head: str | None  # the attribute holding the head, e.g. "classifier" or "score"
    head_type: str | None  # its class: Linear, or a pooling head such as RobertaClassificationHead
    children: tuple[str, ...]  # the model's direct submodules
    num_labels: int  # the configuration's default


@functools.cache
def _model_classes() -> frozenset[str]:
    return frozenset(_load("transformers")["model_classes"])


def is_hf_model_class(name: str) -> bool:
    """Whether `transformers.<name>` is a model class (its `from_pretrained` returns a PreTrainedModel)."""
    return name.startswith("AutoModel") or name in _model_classes()


def hf_classifier(name: str) -> HfClassifier | None:
    """The classification class of that name; None for other classes and for the Auto classes."""
    entry = _load("transformers")["classification"].get(name)
    if entry is None or "error" in entry:
        return None
    return HfClassifier(name, entry["task"], entry["model_type"], entry["backbone"], entry.get("head"),
                        entry.get("head_type"), tuple(entry["children"]), entry["num_labels"])


def hf_classification_task(name: str) -> str | None:
    """The classification task of a model class, concrete or Auto: `AutoModelForSequenceClassification` ->
    "SequenceClassification"; None when the class does not add a classification head."""
    for task in ("SequenceClassification", "TokenClassification", "ImageClassification"):
        if name.endswith(f"For{task}"):
            return task
    return None


@functools.cache
def hf_parameter_names(name: str) -> tuple[str, ...]:
    """`named_parameters()` of the class built with one layer (the names of deeper layers repeat them).

    Stored as a tree of module names whose equal subtrees are shared (see the generator); expanded here."""
    data = _load("transformers")
    entry = data["classification"].get(name)
    if entry is None or "error" in entry:
        return ()
    return expand_parameter_tree(data["parameter_trees"], entry["parameters"])


@functools.cache
def hf_backbone_names() -> frozenset[str]:
    """Every attribute name that holds the base model in some classification class (bert, roberta, vit...)."""
    return frozenset(e["backbone"] for e in _load("transformers")["classification"].values() if e.get("backbone"))


def transformers_version() -> str:
    return str(_load("transformers")["transformers_version"])


# --- PEFT -------------------------------------------------------------------------------------------
def is_peft_config_with_modules_to_save(name: str) -> bool:
    """Whether `peft.<name>` is a PEFT configuration that takes `modules_to_save` (and `task_type`)."""
    return name in _load("peft")["configs_with_modules_to_save"]


def peft_task_types_training_head() -> frozenset[str]:
    """The `task_type` values with which `get_peft_model` makes a classifier head trainable (and saves it)."""
    return frozenset(t for t in _load("peft")["task_types_training_head"] if t is not None)


def peft_version() -> str:
    return str(_load("peft")["peft_version"])


# --- timm -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimmPretrained:
    """A timm pretrained tag's configuration: what its weights expect and where its head is."""

    input_size: tuple[int, ...]
    interpolation: str
    crop_pct: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    classifier: str | tuple[str, ...] | None


@dataclass(frozen=True)
class TimmArchitecture:
    """A timm architecture as `timm.create_model(name)` builds it (the generator built every pretrained one on
    the meta device, see scripts/gen_hub_knowledge.py): its head from its default configuration, its modules
    and sizes from the built model."""

    name: str
    family: str  # the timm module: resnet, vision_transformer, convnext...
    head: str | tuple[str, ...] | None  # pretrained_cfg["classifier"]: "head", "head.fc", "fc", "classifier"...
    num_features: int  # model.num_features: what the pooled features hold
    head_in: int | None  # what the head's Linear (or Conv2d) takes; None when get_classifier() is neither
    head_types: tuple[str, ...] | None  # what get_classifier() returns: ("Linear",), ("Identity",)...; None
    # for an encoder that has no get_classifier (a language model's vision tower)
    batchnorm: bool  # the model has BatchNorm
    children: tuple[str, ...]  # its direct submodules
    reset: tuple[str, ...] | None  # the modules reset_classifier(n) replaces; None when it fails
    default_tag: str


def timm_architecture(name: str) -> TimmArchitecture | None:
    """The architecture `timm.create_model(name)` builds; `name` may carry a tag ("resnet50.a1_in1k"). None
    for an unknown name and for the few architectures timm could not build on the meta device."""
    data = _load("timm")
    entry = data["architectures"].get(name.partition(".")[0])
    if entry is None or "error" in entry or not entry["tags"]:
        return None
    head = data["cfgs"][entry["tags"][0][1]]["classifier"]
    shape = data["shapes"][entry["shape"]]
    reset, head_types = shape["reset"], shape["head_types"]
    return TimmArchitecture(
        name=name.partition(".")[0], family=entry["family"], head=tuple(head) if isinstance(head, list) else head,
        num_features=entry["num_features"], head_in=entry.get("head_in"),
        head_types=tuple(head_types) if isinstance(head_types, list) else None,
        batchnorm=shape["batchnorm"], children=tuple(shape["children"]),
        reset=tuple(reset) if isinstance(reset, list) else None, default_tag=entry["tags"][0][0],
    )


def timm_pretrained(name: str) -> TimmPretrained | None:
    """The pretrained configuration `timm.create_model(name, pretrained=True)` loads (the default tag when
    `name` has none)."""
    data = _load("timm")
    arch, _, tag = name.partition(".")
    entry = data["architectures"].get(arch)
    if entry is None or not entry["tags"]:
        return None
    tags = dict(entry["tags"])
    index = tags.get(tag) if tag else entry["tags"][0][1]
    if index is None:
        return None
    cfg = data["cfgs"][index]
    classifier = cfg["classifier"]
    return TimmPretrained(tuple(cfg["input_size"]), cfg["interpolation"], cfg["crop_pct"], tuple(cfg["mean"]),
                          tuple(cfg["std"]), cfg["num_classes"],
                          tuple(classifier) if isinstance(classifier, list) else classifier)


def timm_version() -> str:
    return str(_load("timm")["timm_version"])
