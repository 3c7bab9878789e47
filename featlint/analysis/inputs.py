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
  * :meth:`Inputs.floats`: a literal sequence of numbers (`mean=(0.485, 0.456, 0.406)`, or a constant);
  * :meth:`Inputs.feeds_data`: a pipeline is handed to a data set (`transform=`, a torchvision data set);
  * :meth:`Inputs.normalises_elsewhere`: the file normalises images some other way than a torchvision
    `Normalize` (a mean subtracted in a forward or a data set, another library's transform, `weights.transforms()`);
  * :meth:`Inputs.pretrained_models`: the calls that build a model with pretrained weights, when every model the
    file builds has them (torchvision classification builders and `timm.create_model(..., pretrained=True)`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Sequence

from featlint.analysis.architectures import Architectures, Origin, Weights
from featlint.analysis.calls import TIMM_CREATE, argument, bool_literal, keyword, model_call, string_literal
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
# Steps that turn an image into a float tensor: ToTensor divides by 255, ToDtype/ConvertImageDtype may.
_TO_FLOAT = frozenset({"ToTensor", "ToDtype", "ConvertImageDtype"})
# Names of calls that normalise images, or build a preprocessing that does (albumentations' and kornia's
# Normalize, timm's create_transform and data configs, Hugging Face image processors, Keras-style helpers).
_NORMALISING_CALL = re.compile(
    r"normali[sz]e|create_transform|data_config|transforms_imagenet|processor|feature_?extractor|preprocess_input",
    re.IGNORECASE,
)
# Names that hold a mean or a std, as normalisation code names them (`IMAGENET_MEAN`, `self.pixel_std`).
_STATISTIC = re.compile(r"mean|std|avg", re.IGNORECASE)
# The ImageNet statistics: written anywhere, they are used to normalise somewhere.
_IMAGENET_STATS = frozenset({0.485, 0.456, 0.406, 0.229, 0.224, 0.225})
# Tensor methods that subtract or divide (`x.sub_(mean).div_(std)`).
_IN_PLACE = frozenset({"sub", "sub_", "div", "div_"})
# Model builders whose preprocessing is the caller's: classification (quantized included). Detection models
# normalise inside their own forward (GeneralizedRCNNTransform).
_CALLER_NORMALISES = frozenset({"classification", "quantization"})
# timm architectures with a pretrained config of mean 0 and std 1 (trained on unnormalised inputs), read from
# timm's model files: every mobilevit and tresnet, and these (for some of their tags).
_TIMM_UNNORMALISED_FAMILIES = ("mobilevit", "tresnet")
_TIMM_UNNORMALISED = frozenset({
    "fastvit_mci0", "fastvit_mci1", "fastvit_mci2", "mixer_b16_224", "mobilenetv3_large_100", "mobilenetv5_300m",
    "mobilenetv5_300m_enc", "vit_base_mci_224", "vit_base_patch14_reg1_tipsv2", "vit_base_patch16_224_miil",
    "vit_giant_patch14_reg1_tipsv2", "vit_large_patch14_reg1_tipsv2", "vit_so400m_patch14_reg1_tipsv2",
})


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
    def to_float(self) -> bool:
        """The pipeline outputs float tensors (ToTensor, or a conversion to a float dtype)."""
        return any(step is not None and step.name in _TO_FLOAT for step in self.steps)

    @property
    def known(self) -> bool:
        """Every step is a torchvision transform (no Lambda or class of the user's, which could do anything)."""
        return all(step is not None and step.name != "Lambda" for step in self.steps)

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
        self._active: set[int] = set()

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

    # --- where the images go, and who normalises them ----------------------------------------------------
    def feeds_data(self, pipeline: Pipeline) -> bool:
        """The pipeline is handed to a data set: as a `transform=`-like argument of any call, positionally to a
        torchvision data set or a class of the file, or stored in a `.transform` attribute."""
        for site in self.facts.calls:
            callee = self.names.call_name(site.node, site.scope) or ""
            takes_positional = callee.startswith("torchvision.datasets.") or (
                isinstance(site.node.func, cst.Name) and site.node.func.value in self.facts.classes
            )
            for arg in site.node.args:
                named = arg.keyword is not None and "transform" in arg.keyword.value.lower()
                given = named or (arg.keyword is None and takes_positional)
                if given and self._holds(arg.value, site.scope, pipeline):
                    return True
        return any(
            "transform" in store.target.attr.value.lower() and store.value is not None
            and self._holds(store.value, store.scope, pipeline)
            for store in self.facts.attribute_stores if isinstance(store.target, cst.Attribute)
        )

    def _holds(self, expr: cst.BaseExpression, scope: Scope, pipeline: Pipeline) -> bool:
        """`expr` may evaluate to the pipeline: the call itself, a name bound to it, a dict or list holding it."""
        if expr is pipeline.call:
            return True
        if id(expr) in self._active:
            return False
        self._active.add(id(expr))
        try:
            if isinstance(expr, cst.Name):
                return any(
                    binding.kind == "assign" and binding.value is not None
                    and self._holds(binding.value, binding.scope, pipeline)
                    for binding in scope.lookup(expr.value)
                )
            if isinstance(expr, cst.Subscript):
                return self._holds(expr.value, scope, pipeline)
            if isinstance(expr, cst.IfExp):
                return self._holds(expr.body, scope, pipeline) or self._holds(expr.orelse, scope, pipeline)
            if isinstance(expr, cst.Dict):
                return any(
                    isinstance(e, cst.DictElement) and self._holds(e.value, scope, pipeline) for e in expr.elements
                )
            if isinstance(expr, (cst.List, cst.Tuple)):
                return any(
                isinstance(e, cst.Element) and self._holds(e.value, scope, pipeline) for e in expr.elements
            )
            return False
        finally:
            self._active.discard(id(expr))

    def normalises_elsewhere(self, source: str) -> bool:
        """Images may be normalised without a torchvision `Normalize`: a mean subtracted or a std divided by
        anywhere in the file (a model's forward, a data set's `__getitem__`), another library's normalising
        transform, `weights.transforms()`, an image processor, or the ImageNet statistics written down.
        `source` is the file's text: the arithmetic is searched in Python's own tree, which costs a fifth of a
        walk over libcst's."""
        for site in self.facts.calls:
            func = site.node.func
            short = (func.attr.value if isinstance(func, cst.Attribute)
                     else func.value if isinstance(func, cst.Name) else "")
            if _NORMALISING_CALL.search(short):
                return True
            if isinstance(func, cst.Attribute) and short == "transforms":
                return True  # weights.transforms()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return True  # cannot tell: stay silent
        return any(_normalises(node) for node in ast.walk(tree))

    @functools.cached_property
    def _pretrained_models(self) -> tuple[cst.Call, ...] | None:
        found: list[cst.Call] = []
        scopes: list[Scope] = []
        for site in self.facts.calls:
            pretrained = self._builds_pretrained(site.node, site.scope)
            if pretrained is False:
                return None
            if pretrained:
                found.append(site.node)
                scopes.append(site.scope)
        if not found:
            return None
        for classes in self.facts.classes.values():
            for klass in classes:
                if self.architectures.values.is_module_class(klass) and not any(
                    _inside(scope, klass) for scope in scopes
                ):
                    return None  # the file's own model, which may be trained from scratch on these images
        return tuple(found)

    def _builds_pretrained(self, call: cst.Call, scope: Scope) -> bool | None:
        """True: the call builds a model with pretrained weights; False: it builds a model that may have none,
        or one featlint cannot tell; None: it builds no model."""
        built = model_call(self.names, call, scope)
        if built is not None:
            if built.builder is None or built.builder.task not in _CALLER_NORMALISES:
                return False
            return self.architectures.weights_of(Origin(built.builder, call, scope)).pretrained
        name = self.names.call_name(call, scope) or ""
        if name in TIMM_CREATE:
            flag = keyword(call, "pretrained")
            model = string_literal(argument(call, 0, "model_name"))
            if flag is None or bool_literal(flag.value) is not True or model is None:
                return False  # no weights, or an architecture chosen at run time (it may need no normalisation)
            source, _, arch = model.rpartition(":")
            if source and not (source in ("hf-hub", "hf_hub") and arch.startswith("timm/")):
                return False  # a model of someone else's hub repository or folder: its config is unknown
            arch = arch.removeprefix("timm/").split(".")[0]
            return arch not in _TIMM_UNNORMALISED and not arch.startswith(_TIMM_UNNORMALISED_FAMILIES)
        func = call.func
        if name == "torch.hub.load" or (isinstance(func, cst.Attribute) and func.attr.value == "from_pretrained"):
            return False  # a model from elsewhere, with preprocessing of its own
        return None

    def pretrained_models(self) -> tuple[cst.Call, ...] | None:
        """The calls that build a model with pretrained weights whose inputs the caller normalises, when every
        model of the file is one of them: None when the file also builds a model without weights, one with
        weights featlint cannot tell, a detection model (it normalises itself), a model of another library,
        or defines an nn.Module of its own that holds none of them."""
        return self._pretrained_models


def _inside(scope: Scope, klass: cst.ClassDef) -> bool:
    found: Scope | None = scope
    while found is not None:
        if found.node is klass:
            return True
        found = found.parent
    return False


def _normalises(node: ast.AST) -> bool:
    """`x - mean`, `x / std`, `x -= self.mean`, `x.sub_(mean)`, a shift by a fractional constant
    (`(x - 0.5) / 0.5`), a rescale to [-1, 1] (`x * 2 - 1`), or an ImageNet statistic written as a number."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
        if _is_float(node.right) or (isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Mult)):
            return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.Div)):
        return _mentions_statistic(node.right)
    if isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Sub, ast.Div)):
        return _mentions_statistic(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _IN_PLACE:
        return any(_mentions_statistic(arg) for arg in node.args)
    return _is_float(node) and node.value in _IMAGENET_STATS  # type: ignore[attr-defined]


def _is_float(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def _mentions_statistic(expr: ast.AST) -> bool:
    return any(
        (isinstance(node, ast.Name) and _STATISTIC.search(node.id) is not None)
        or (isinstance(node, ast.Attribute) and _STATISTIC.search(node.attr) is not None)
        or (_is_float(node) and node.value in _IMAGENET_STATS)  # type: ignore[attr-defined]
        for node in ast.walk(expr)
    )
