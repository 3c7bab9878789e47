"""What a file feeds its torchvision models: the torchvision transforms it writes, the `Compose` pipelines
they form, the image size a pipeline ends with, and which models those images can reach.

The data rules (FL601-FL603) compare these with what the architecture and its weights expect
(:mod:`featlint.analysis.torchvision`). A file does not say which pipeline feeds which model, so the rules
ask about every model of the file (:meth:`Inputs.models`), and the answer is None as soon as one model is
something featlint cannot tell: a finding must hold whichever model the images reach.

API (built once per file, on first use, as ``FileAnalysis.inputs``):
  * :meth:`Inputs.transforms`: every call of a torchvision transform, by class name (`Normalize`, `Resize`);
  * :meth:`Inputs.pipelines`: every `transforms.Compose([...])` with its steps in order;
  * :meth:`Pipeline.final_size`: the transform that fixes the size of the images a pipeline outputs;
  * :meth:`Inputs.models`: every torchvision model built in the file with the weights it loads;
  * :meth:`Inputs.floats`: a literal sequence of numbers (`mean=(0.485, 0.456, 0.406)`, or a constant).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from featlint.analysis.architectures import Architectures, Origin, Weights
from featlint.analysis.calls import argument, keyword
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, Scope
from featlint.startup.deferred import cst

# The modules torchvision's transform classes are reached through.
TRANSFORM_MODULES = frozenset({
    "torchvision.transforms", "torchvision.transforms.v2", "torchvision.transforms.transforms",
})
# Transforms whose output has the height and width of their input (and the same channels, except Grayscale).
_SIZE_PRESERVING = frozenset({
    "ToTensor", "PILToTensor", "ToImage", "ToDtype", "ConvertImageDtype", "ToPILImage", "Normalize",
    "RandomHorizontalFlip", "RandomVerticalFlip", "ColorJitter", "Grayscale", "RandomGrayscale", "GaussianBlur",
    "RandomAffine", "RandomPerspective", "RandomErasing", "AutoAugment", "RandAugment", "TrivialAugmentWide",
    "AugMix", "RandomAutocontrast", "RandomEqualize", "RandomInvert", "RandomPosterize", "RandomSolarize",
    "RandomAdjustSharpness", "RandomPhotometricDistort", "ElasticTransform",
})
# Transforms whose output size is their `size` argument: a crop of exactly that size.
_CROPS = frozenset({"CenterCrop", "RandomCrop", "RandomResizedCrop"})
# Transforms that output as many channels as they receive.
_CHANNEL_PRESERVING = (_SIZE_PRESERVING - {"Grayscale"}) | _CROPS | {"Resize", "RandomRotation"}


@dataclasses.dataclass(frozen=True)
class Transform:
    """A call of a torchvision transform class; `name` is the class name (`Resize`)."""

    name: str
    call: cst.Call = dataclasses.field(repr=False)
    scope: Scope = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class FinalSize:
    """The transform that fixes a pipeline's output size. `sides` are sizes the output certainly has: both
    sides for a crop or `Resize((h, w))`, the shorter side only for `Resize(n)`."""

    transform: Transform
    sides: tuple[int, ...]

    def describe(self) -> str:
        return "x".join(str(side) for side in self.sides)


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """`transforms.Compose([...])`: its steps in order, None for a step that is not a torchvision transform
    (a `Lambda` counts as one: what it does is unknown)."""

    call: cst.Call = dataclasses.field(repr=False)
    steps: tuple[Transform | None, ...]

    @property
    def training(self) -> bool:
        """It augments at random: a training pipeline."""
        return any(step is not None and step.name.startswith("Random") for step in self.steps)

    def after(self, transform: Transform) -> tuple[Transform | None, ...]:
        """The steps that run after `transform`."""
        for index, step in enumerate(self.steps):
            if step is not None and step.call is transform.call:
                return self.steps[index + 1:]
        return ()


def keeps_channels(step: Transform | None) -> bool:
    """The step outputs as many channels as it receives (False for anything featlint does not know)."""
    return step is not None and step.name in _CHANNEL_PRESERVING


class Inputs:
    def __init__(self, facts: ModuleFacts, names: NameResolver, architectures: Architectures) -> None:
        self.facts = facts
        self.names = names
        self.architectures = architectures

    @functools.cached_property
    def _transforms(self) -> dict[str, list[Transform]]:
        found: dict[str, list[Transform]] = {}
        for site in self.facts.calls:
            name = self._transform_name(site.node, site.scope)
            if name is not None:
                found.setdefault(name, []).append(Transform(name, site.node, site.scope))
        return found

    def _transform_name(self, call: cst.Call, scope: Scope) -> str | None:
        qualified = self.names.call_name(call, scope)
        if qualified is None:
            return None
        module, _, name = qualified.rpartition(".")
        return name if module in TRANSFORM_MODULES else None

    def transforms(self, name: str) -> list[Transform]:
        """Every call of the torchvision transform class `name` in the file."""
        return self._transforms.get(name, [])

    @functools.cached_property
    def _pipelines(self) -> tuple[Pipeline, ...]:
        by_call = {id(t.call): t for found in self._transforms.values() for t in found}
        pipelines = []
        for compose in self.transforms("Compose"):
            steps = argument(compose.call, 0, "transforms")
            if not isinstance(steps, (cst.List, cst.Tuple)):
                continue
            pipelines.append(Pipeline(compose.call, tuple(
                None if not isinstance(element, cst.Element) or not isinstance(element.value, cst.Call)
                else by_call.get(id(element.value))
                for element in steps.elements
            )))
        return tuple(pipelines)

    def pipelines(self) -> tuple[Pipeline, ...]:
        return self._pipelines

    def pipeline_of(self, transform: Transform) -> Pipeline | None:
        """The pipeline `transform` is a step of, if it is written inside one."""
        return next((p for p in self._pipelines if any(s is not None and s.call is transform.call for s in p.steps)), None)

    def final_size(self, pipeline: Pipeline) -> FinalSize | None:
        """The size of the images the pipeline outputs, when its last resize or crop fixes it and nothing
        after that changes it; None when featlint cannot tell."""
        for step in reversed(pipeline.steps):
            if step is None:
                return None
            if step.name in _SIZE_PRESERVING:
                continue
            if step.name == "RandomRotation" and argument(step.call, 2, "expand") is None:
                continue
            if step.name == "Resize" or step.name in _CROPS:
                return self._sized(step)
            return None  # Pad, FiveCrop, RandomRotation(expand=True)...: the size changes in ways not followed
        return None

    def _sized(self, step: Transform) -> FinalSize | None:
        size = argument(step.call, 0, "size")
        if size is None or (step.name == "Resize" and keyword(step.call, "max_size") is not None):
            return None
        sides = self._sides(size, step.scope)
        if sides is None:
            return None
        if len(sides) == 1 and step.name in _CROPS:
            sides = sides * 2  # a crop of size n (or (n,)) is n x n; Resize(n) fixes only the shorter side
        return FinalSize(step, sides)

    def _sides(self, expr: cst.BaseExpression, scope: Scope) -> tuple[int, ...] | None:
        value = self.constant(expr, scope)
        if isinstance(value, (cst.List, cst.Tuple)):
            sides = [self.architectures.size(e.value, scope) if isinstance(e, cst.Element) else None
                     for e in value.elements]
            if not 1 <= len(sides) <= 2 or any(side is None for side in sides):
                return None
            return tuple(side for side in sides if side is not None)
        side = self.architectures.size(expr, scope)
        return (side,) if side is not None else None

    def floats(self, expr: cst.BaseExpression, scope: Scope) -> tuple[float, ...] | None:
        """The numbers of a literal sequence (or of a name bound once to one), or a lone literal number.
        Only plain literals: computed values (an inverse normalization's `-m / s`) are not read."""
        value = self.constant(expr, scope)
        elements: Sequence[cst.BaseExpression]
        if isinstance(value, (cst.List, cst.Tuple)):
            if not all(isinstance(e, cst.Element) for e in value.elements):
                return None
            elements = [e.value for e in value.elements]
        else:
            elements = [value]
        if not elements or not all(isinstance(e, (cst.Float, cst.Integer)) for e in elements):
            return None
        return tuple(float(e.evaluated_value) for e in elements)  # type: ignore[attr-defined]

    @staticmethod
    def constant(expr: cst.BaseExpression, scope: Scope) -> cst.BaseExpression:
        """A name bound once to a value is that value; anything else is itself."""
        if isinstance(expr, cst.Name):
            bindings = scope.lookup(expr.value)
            if len(bindings) == 1 and bindings[0].kind == "assign" and not bindings[0].element:
                value = bindings[0].value
                if value is not None:
                    return value
        return expr

    @functools.cached_property
    def _models(self) -> tuple[tuple[Origin, Weights], ...] | None:
        archs = self.architectures
        if archs.has_unknown_models():
            return None
        return tuple((origin, archs.weights_of(origin)) for origin in archs.built_models())

    def models(self) -> tuple[tuple[Origin, Weights], ...] | None:
        """Every torchvision model the file builds, with its weights; None when it also builds a model
        featlint cannot tell (`models.__dict__[arch]()`, timm), which any pipeline might feed."""
        return self._models
