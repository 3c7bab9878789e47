"""What featlint knows about torchvision's model builders and weights, without importing torch.

The facts come from `data/torchvision.json`, generated from the pinned torchvision by
`scripts/gen_torchvision_knowledge.py`: linting must work where torch is not installed, and must not pay
for importing it where it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class WeightsMember:
    """One member of a weights enum, with the module a fix imports the enum from."""

    enum: str
    enum_module: str
    member: str


@dataclass(frozen=True)
class WeightsParam:
    """A builder's weights parameter (`weights`, `weights_backbone`) and the legacy boolean it replaced."""

    name: str
    # The enum the parameter takes with the builder's default arguments. For quantized builders that is the
    # float enum: they take their *_QuantizedWeights enum only with quantize=True.
    enum: str
    enum_module: str
    legacy_param: str
    # The member of `enum` that `legacy_param=True` loads; None where torchvision raises instead.
    legacy_value: str | None
    # Keyword arguments which, when true, make `legacy_param=True` load other weights (None: no weights):
    # quantized builders' {"quantize": ResNet50_QuantizedWeights.IMAGENET1K_FBGEMM_V1}.
    legacy_value_if: Mapping[str, WeightsMember | None] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Builder:
    """A torchvision model builder such as `torchvision.models.resnet50`."""

    qualified_name: str  # the public path, e.g. torchvision.models.quantization.resnet50
    name: str  # the function's own name, e.g. resnet50
    defined_in: str  # the module that defines it, e.g. torchvision.models.quantization.resnet
    task: str  # classification, detection, segmentation, video, optical_flow or quantization
    weights_params: tuple[WeightsParam, ...]
    num_classes_param: bool  # whether `num_classes=` reaches the model

    def weights_param(self, name: str) -> WeightsParam | None:
        return next((param for param in self.weights_params if param.name == name), None)

    def weights_param_for_legacy(self, legacy_name: str) -> WeightsParam | None:
        return next((param for param in self.weights_params if param.legacy_param == legacy_name), None)


@dataclass(frozen=True)
class Layer:
    """A module of a classification model as torchvision builds it without weights, seen in a traced forward.

    `path` is dotted like `named_modules()` ("classifier.6"); `input` is the shape (without the batch) it
    receives in a forward pass on 224x224 images, None when the forward never calls it.
    """

    path: str
    type: str  # the class name: Linear, Conv2d, Sequential, Dropout...
    input: tuple[int, ...] | None
    in_size: int | None = None  # in_features of a Linear, in_channels of a Conv2d
    out_size: int | None = None
    kernel: int | None = None  # Conv2d only
    length: int | None = None  # Sequential only

    @property
    def called(self) -> bool:
        return self.input is not None


@dataclass(frozen=True)
class AuxHead:
    """An auxiliary classifier (inception_v3's AuxLogits, googlenet's aux1/aux2), returned in train mode."""

    root: str  # the child that computes it, e.g. "AuxLogits"
    head: str  # its last layer, e.g. "AuxLogits.fc"
    without_weights: bool  # present when built with weights=None and default arguments
    with_weights: bool  # present when built with weights and default arguments


@dataclass(frozen=True)
class Architecture:
    """What a classification builder's model looks like and what its forward does (observed, not written)."""

    head: str  # the layer that produces the logits, e.g. "fc", "classifier.6", "heads.head"
    stem: str  # the first convolution the forward calls (it takes the 3 input channels)
    children: tuple[str, ...]  # the model's direct submodules, in registration order
    layers: Mapping[str, Layer]  # the children, the stem, the head and every layer of its containers
    batchnorm: bool
    dropout: bool  # dropout, stochastic depth or attention dropout with p > 0, as built by default
    aux: Mapping[str, AuxHead]
    aux_param: str | None  # the builder argument that switches the auxiliary heads (aux_logits)
    min_train_size: int | None  # models with auxiliary heads: the smallest input their train forward takes
    # Models whose forward asserts its input size: the sizes accepted, by weights member ("none": no weights).
    input_sizes: Mapping[str, tuple[int, ...]] | None
    # How many leading children `nn.Sequential(*list(model.children())[:k])` can keep and still compute
    # what the model's own forward feeds the next child (nothing is done between them, not even a flatten).
    sequential_prefix: int
    parameters_tree: int

    def layer(self, path: str) -> Layer | None:
        return self.layers.get(path)


@dataclass(frozen=True)
class Transforms:
    """What `weights.transforms()` does: resize, center crop, then normalize with mean and std."""

    resize: int
    crop: int
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    min_size: int  # the smallest input the weights' metadata allows


@dataclass(frozen=True)
class _Knowledge:
    version: str
    builders: Mapping[str, Builder]  # by public and by defining-module qualified name
    registry: Mapping[str, Builder]  # by the name torchvision.models.get_model() takes
    builder_modules: frozenset[str]
    weights: Mapping[str, Mapping[str, Any]]
    architectures: Mapping[str, Mapping[str, Any]]  # raw, by public qualified name; read on demand
    parameter_trees: list[Any]


def _weights_param(name: str, data: Mapping[str, Any], weights: Mapping[str, Mapping[str, Any]]) -> WeightsParam:
    conditional = {
        condition: None if ref is None else WeightsMember(ref["enum"], weights[ref["enum"]]["module"], ref["member"])
        for condition, ref in data["legacy_value_if"].items()
    }
    return WeightsParam(
        name=name,
        enum=data["enum"],
        enum_module=data["enum_module"],
        legacy_param=data["legacy_param"],
        legacy_value=data["legacy_value"],
        legacy_value_if=MappingProxyType(conditional),
    )


@functools.cache
def _knowledge() -> _Knowledge:
    # A path beside the package rather than importlib.resources, whose import (zipfile, tempfile) costs more
    # than reading the file: featlint is always installed as files.
    data = json.loads((Path(__file__).parents[1] / "data" / "torchvision.json").read_text(encoding="utf-8"))
    weights = data["weights"]
    builders: dict[str, Builder] = {}
    modules: set[str] = set()
    for qualified, entry in data["builders"].items():
        module, _, name = qualified.rpartition(".")
        builder = Builder(
            qualified_name=qualified,
            name=name,
            defined_in=entry["defined_in"],
            task=entry["task"],
            weights_params=tuple(
                _weights_param(param, spec, weights) for param, spec in sorted(entry["weights_params"].items())
            ),
            num_classes_param=entry["num_classes_param"],
        )
        builders[qualified] = builders[f"{builder.defined_in}.{name}"] = builder
        modules.update((module, builder.defined_in))
    return _Knowledge(
        version=data["torchvision_version"],
        builders=builders,
        registry={name: builders[qualified] for name, qualified in data["registry"].items()},
        builder_modules=frozenset(modules),
        weights=weights,
        architectures={q: entry["architecture"] for q, entry in data["builders"].items() if "architecture" in entry},
        parameter_trees=data["parameter_trees"],
    )


def builder(qualified_name: str) -> Builder | None:
    """The builder called by that name, public (torchvision.models.resnet50) or not (...models.resnet.resnet50)."""
    return _knowledge().builders.get(qualified_name)


def builder_by_short_name(name: str) -> Builder | None:
    """The builder `torchvision.models.get_model(name)` calls; quantized ones are named like quantized_resnet50."""
    return _knowledge().registry.get(name)


def weights_num_categories(enum: str, member: str) -> int | None:
    """How many classes the weights were trained on (member may be DEFAULT); None when unknown or headless."""
    weights = _knowledge().weights.get(enum)
    if weights is None:
        return None
    entry = weights["members"].get(weights["default"] if member == "DEFAULT" else member)
    return entry["num_categories"] if entry is not None else None


def torchvision_version() -> str:
    """The torchvision release the knowledge was generated from."""
    return _knowledge().version


def is_builder_module(qualified_module: str) -> bool:
    """Whether the module's attributes are model builders, so `module.__dict__[arch]` builds a model."""
    return qualified_module in _knowledge().builder_modules


def _layer(path: str, data: Mapping[str, Any]) -> Layer:
    shape = data.get("input")
    return Layer(
        path=path,
        type=data["type"],
        input=tuple(shape) if data["called"] and shape is not None else None,
        in_size=data.get("in"),
        out_size=data.get("out"),
        kernel=data.get("kernel"),
        length=data.get("len"),
    )


@functools.cache
def architecture(builder: Builder) -> Architecture | None:
    """The architecture of a classification builder's model; None for other tasks."""
    data = _knowledge().architectures.get(builder.qualified_name)
    if data is None:
        return None
    sizes = data.get("input_sizes")
    return Architecture(
        head=data["head"],
        stem=data["stem"],
        children=tuple(data["children"]),
        layers=MappingProxyType({path: _layer(path, layer) for path, layer in data["layers"].items()}),
        batchnorm=data["batchnorm"],
        dropout=data["dropout"],
        aux=MappingProxyType({
            root: AuxHead(root, aux["head"], aux["without_weights"], aux["with_weights"])
            for root, aux in data.get("aux", {}).items()
        }),
        aux_param=data.get("aux_param"),
        min_train_size=data.get("min_train_size"),
        input_sizes=MappingProxyType({k: tuple(v) for k, v in sizes.items()}) if sizes is not None else None,
        sequential_prefix=data["sequential_prefix"],
        parameters_tree=data["parameters"],
    )


@functools.cache
def parameter_names(builder: Builder) -> tuple[str, ...]:
    """`named_parameters()` of the builder's model (weights=None, default arguments), in order.

    The data stores them as a tree whose repeated blocks are shared (see the generator); expanded on demand.
    """
    arch = architecture(builder)
    if arch is None:
        return ()
    return expand_parameter_tree(_knowledge().parameter_trees, arch.parameters_tree)


def expand_parameter_tree(trees: list[Any], root: int) -> tuple[str, ...]:
    """Dotted parameter names from a tree of module names whose equal subtrees are shared: node
    `[own names, [[child, node index], ...]]` (the generators' encoding, for torchvision and transformers)."""
    names: list[str] = []

    def expand(node: int, prefix: str) -> None:
        own, children = trees[node]
        names.extend(prefix + name for name in own)
        for child, index in children:
            expand(index, f"{prefix}{child}.")

    expand(root, "")
    return tuple(names)


def weights_transforms(enum: str, member: str) -> Transforms | None:
    """The evaluation preset of image-classification weights (member may be DEFAULT); None otherwise."""
    weights = _knowledge().weights.get(enum)
    if weights is None:
        return None
    entry = weights["members"].get(weights["default"] if member == "DEFAULT" else member)
    data = entry.get("transforms") if entry is not None else None
    if data is None:
        return None
    return Transforms(
        data["resize"], data["crop"], data["interpolation"], tuple(data["mean"]), tuple(data["std"]),
        data["min_size"],
    )


def weights_members(enum: str) -> tuple[str, ...]:
    """The members of a weights enum (without the DEFAULT alias)."""
    weights = _knowledge().weights.get(enum)
    return tuple(weights["members"]) if weights is not None else ()


def default_member(enum: str) -> str | None:
    weights = _knowledge().weights.get(enum)
    return weights["default"] if weights is not None else None


def display_path(path: str) -> str:
    """A dotted module path as Python code writes it: "classifier.6" -> "classifier[6]"."""
    return "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in path.split(".")).lstrip(".")
