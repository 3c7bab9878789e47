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
from importlib.resources import files
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
class _Knowledge:
    version: str
    builders: Mapping[str, Builder]  # by public and by defining-module qualified name
    registry: Mapping[str, Builder]  # by the name torchvision.models.get_model() takes
    builder_modules: frozenset[str]
    weights: Mapping[str, Mapping[str, Any]]


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
    data = json.loads(files("featlint").joinpath("data/torchvision.json").read_text(encoding="utf-8"))
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
