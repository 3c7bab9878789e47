"""The shipped torchvision knowledge, checked against the torchvision it claims to describe.

The tests that need torch call the real builders, catching the weights at the moment torchvision asks for
their state dict, so nothing is downloaded and the data is compared with what torchvision does, not with
what the generator read from its closures.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from featlint.analysis import torchvision as tv

# Building models under the legacy interface makes torch and torchvision warn; that is expected here.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "featlint" / "data" / "torchvision.json"
DATA = json.loads(SHIPPED.read_text(encoding="utf-8"))
REGISTRY: dict[str, str] = DATA["registry"]
RESNET50_V1 = ("ResNet50_Weights", "torchvision.models", "IMAGENET1K_V1")

# torchvision 0.29's classification builders, by family.
CLASSIFICATION = [
    *(f"resnet{depth}" for depth in (18, 34, 50, 101, 152)),
    "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    *(f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")),
    "alexnet",
    *(f"densenet{depth}" for depth in (121, 161, 169, 201)),
    "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
    *(f"efficientnet_b{index}" for index in range(8)),
    *(f"efficientnet_v2_{size}" for size in "sml"),
    *(f"convnext_{size}" for size in ("tiny", "small", "base", "large")),
    "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
    *(f"swin_{size}" for size in "tsb"),
    *(f"swin_v2_{size}" for size in "tsb"),
    "maxvit_t",
    *(f"regnet_x_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *(f"regnet_y_{size}" for size in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
    *(f"shufflenet_v2_{size}" for size in ("x0_5", "x1_0", "x1_5", "x2_0")),
    *(f"mnasnet{size}" for size in ("0_5", "0_75", "1_0", "1_3")),
    "squeezenet1_0", "squeezenet1_1", "googlenet", "inception_v3",
]


def _generator() -> ModuleType:
    path = REPO / "scripts" / "gen_torchvision_knowledge.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_reproduces_the_shipped_file() -> None:
    pytest.importorskip("torchvision")
    assert _generator().render() == SHIPPED.read_text(encoding="utf-8")


def test_shipped_file_is_small() -> None:
    assert SHIPPED.stat().st_size < 300_000


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_every_classification_builder_is_known(name: str) -> None:
    builder = tv.builder(f"torchvision.models.{name}")
    assert builder is not None and builder.task == "classification" and builder.num_classes_param
    assert tv.builder_by_short_name(name) is builder
    weights = builder.weights_param_for_legacy("pretrained")
    assert weights is not None and weights is builder.weights_param("weights")


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_every_classification_builder_has_an_architecture(name: str) -> None:
    arch = tv.architecture(tv.builder_by_short_name(name))
    assert arch is not None
    head = arch.layer(arch.head)
    assert head is not None and head.called and head.out_size == 1000
    assert head.type == ("Conv2d" if name.startswith("squeezenet") else "Linear")
    assert arch.layer(arch.stem).type == "Conv2d" and arch.layer(arch.stem).in_size == 3
    assert tv.parameter_names(tv.builder_by_short_name(name))


# The head table of the bug catalogue (read from torchvision's source by hand): path and input size.
HEADS = {
    "resnet18": ("fc", 512), "resnet50": ("fc", 2048), "resnext50_32x4d": ("fc", 2048),
    "wide_resnet50_2": ("fc", 2048), "vgg16": ("classifier.6", 4096), "alexnet": ("classifier.6", 4096),
    "densenet121": ("classifier", 1024), "densenet161": ("classifier", 2208), "mobilenet_v2": ("classifier.1", 1280),
    "mobilenet_v3_small": ("classifier.3", 1024), "mobilenet_v3_large": ("classifier.3", 1280),
    "efficientnet_b0": ("classifier.1", 1280), "efficientnet_b7": ("classifier.1", 2560),
    "efficientnet_v2_s": ("classifier.1", 1280), "convnext_large": ("classifier.2", 1536),
    "vit_b_16": ("heads.head", 768), "vit_h_14": ("heads.head", 1280), "swin_t": ("head", 768),
    "swin_v2_b": ("head", 1024), "regnet_y_400mf": ("fc", 440), "regnet_x_32gf": ("fc", 2520),
    "shufflenet_v2_x2_0": ("fc", 2048), "mnasnet0_5": ("classifier.1", 1280), "squeezenet1_1": ("classifier.1", 512),
    "googlenet": ("fc", 1024), "inception_v3": ("fc", 2048), "maxvit_t": ("classifier.5", 512),
}


@pytest.mark.parametrize(("name", "expected"), HEADS.items())
def test_heads_agree_with_the_catalogue(name: str, expected: tuple[str, int]) -> None:
    arch = tv.architecture(tv.builder_by_short_name(name))
    assert (arch.head, arch.layer(arch.head).in_size) == expected


def test_architecture_details() -> None:
    vgg = tv.architecture(tv.builder_by_short_name("vgg16"))
    assert vgg.layer("classifier").input == (25088,) and vgg.layer("classifier").length == 7
    assert "fc" not in vgg.children and not vgg.batchnorm
    inception = tv.architecture(tv.builder_by_short_name("inception_v3"))
    assert inception.aux["AuxLogits"] == tv.AuxHead("AuxLogits", "AuxLogits.fc", True, True)
    assert inception.aux_param == "aux_logits" and inception.min_train_size == 299
    googlenet = tv.architecture(tv.builder_by_short_name("googlenet"))
    assert googlenet.aux["aux1"] == tv.AuxHead("aux1", "aux1.fc2", without_weights=True, with_weights=False)
    vit = tv.architecture(tv.builder_by_short_name("vit_b_16"))
    assert vit.input_sizes == {"none": (224,), "IMAGENET1K_V1": (224,), "IMAGENET1K_SWAG_E2E_V1": (384,),
                               "IMAGENET1K_SWAG_LINEAR_V1": (224,)}
    assert tv.architecture(tv.builder_by_short_name("resnet50")).input_sizes is None
    assert tv.architecture(tv.builder("torchvision.models.detection.fasterrcnn_resnet50_fpn")) is None
    squeeze = tv.architecture(tv.builder_by_short_name("squeezenet1_1")).layer("classifier.1")
    assert (squeeze.type, squeeze.in_size, squeeze.kernel) == ("Conv2d", 512, 1)
    assert tv.weights_transforms("EfficientNet_V2_L_Weights", "DEFAULT") == tv.Transforms(
        480, 480, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 33)
    assert tv.weights_transforms("ResNet50_Weights", "IMAGENET1K_V1").mean == (0.485, 0.456, 0.406)
    assert tv.display_path("classifier.6") == "classifier[6]" and tv.display_path("heads.head") == "heads.head"


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_b0", "regnet_y_400mf", "googlenet", "vit_b_16"])
def test_parameter_names_expand_exactly(name: str) -> None:
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    with torch.device("meta"):
        model = models.get_model(name) if not name.startswith("regnet") else None
    if model is None:
        model = models.get_model(name)
    assert tv.parameter_names(tv.builder_by_short_name(name)) == tuple(n for n, _ in model.named_parameters())


def test_classification_list_is_complete() -> None:
    known = {name for name, qualified in REGISTRY.items() if tv.builder(qualified).task == "classification"}
    assert known == set(CLASSIFICATION)


def test_lookups_by_public_and_defining_module() -> None:
    resnet = tv.builder("torchvision.models.resnet50")
    assert resnet is not None and tv.builder("torchvision.models.resnet.resnet50") is resnet
    assert resnet.name == "resnet50" and resnet.defined_in == "torchvision.models.resnet"
    quantized = tv.builder("torchvision.models.quantization.resnet50")
    assert quantized is not None and quantized is not resnet and quantized.task == "quantization"
    assert tv.builder("torchvision.models.quantization.resnet.resnet50") is quantized
    assert tv.builder_by_short_name("quantized_resnet50") is quantized
    detection = tv.builder("torchvision.models.detection.faster_rcnn.fasterrcnn_resnet50_fpn")
    assert detection is tv.builder("torchvision.models.detection.fasterrcnn_resnet50_fpn") is not None
    assert tv.builder("torchvision.models.get_model") is None and tv.builder_by_short_name("resnet") is None
    for module in ("torchvision.models", "torchvision.models.video", "torchvision.models.segmentation.fcn"):
        assert tv.is_builder_module(module)
    assert not tv.is_builder_module("torchvision.models._api") and not tv.is_builder_module("torchvision")


def test_legacy_weights_are_the_old_ones_not_default() -> None:
    weights = tv.builder("torchvision.models.resnet50").weights_param("weights")
    assert (weights.enum, weights.enum_module, weights.legacy_value) == RESNET50_V1
    assert tv.weights_num_categories("ResNet50_Weights", "IMAGENET1K_V1") == 1000
    assert DATA["weights"]["ResNet50_Weights"]["default"] == "IMAGENET1K_V2"
    assert tv.weights_num_categories("ResNet50_Weights", "DEFAULT") == 1000
    assert tv.weights_num_categories("VGG16_Weights", "IMAGENET1K_FEATURES") is None
    assert tv.weights_num_categories("DeepLabV3_ResNet50_Weights", "COCO_WITH_VOC_LABELS_V1") == 21
    assert tv.weights_num_categories("ResNet50_Weights", "NOPE") is None
    assert tv.weights_num_categories("Nope", "V1") is None
    assert tv.torchvision_version() == "0.29.1"


def test_quantized_builders_take_float_weights_unless_quantize() -> None:
    weights = tv.builder("torchvision.models.quantization.resnet50").weights_param("weights")
    assert (weights.enum, weights.enum_module, weights.legacy_value) == RESNET50_V1
    quantized = tv.WeightsMember("ResNet50_QuantizedWeights", "torchvision.models.quantization", "IMAGENET1K_FBGEMM_V1")
    assert weights.legacy_value_if == {"quantize": quantized}


def test_detection_backbone() -> None:
    builder = tv.builder("torchvision.models.detection.fasterrcnn_resnet50_fpn")
    backbone = builder.weights_param_for_legacy("pretrained_backbone")
    assert backbone is builder.weights_param("weights_backbone")
    assert (backbone.enum, backbone.enum_module, backbone.legacy_value) == RESNET50_V1
    weights = builder.weights_param("weights")
    assert (weights.enum, weights.enum_module, weights.legacy_value) == (
        "FasterRCNN_ResNet50_FPN_Weights", "torchvision.models.detection", "COCO_V1"
    )


def test_loader_does_not_import_torch() -> None:
    code = (
        "import featlint.analysis.torchvision as t, sys; t.builder('torchvision.models.resnet50'); "
        "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# Checked against the real torchvision ----------------------------------------------------------------------


class _Loaded(Exception):
    """Raised where torchvision would download weights, carrying them."""

    def __init__(self, weights: object) -> None:
        super().__init__(weights)
        self.weights = weights


@pytest.fixture
def intercept_downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    api = pytest.importorskip("torchvision.models._api")

    def get_state_dict(self: object, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise _Loaded(self)

    monkeypatch.setattr(api.WeightsEnum, "get_state_dict", get_state_dict)
    yield


def _build(name: str, **kwargs: Any) -> object:
    """Build the registered model, on the meta device where it can be built there, since that costs nothing."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    build: Callable[..., object] = models.get_model_builder(name)
    # RegNet computes its widths with tensors while building, and quantize=True calibrates: neither works on meta.
    device = "cpu" if name.startswith("regnet") or kwargs.get("quantize") else "meta"
    with torch.device(device):
        return build(**kwargs)


def _loaded(name: str, **kwargs: Any) -> tuple[str, str, str] | None:
    """(enum module, enum, member) of the weights the call loads; None where torchvision has none to load."""
    try:
        _build(name, **kwargs)
    except _Loaded as loaded:
        enum = type(loaded.weights)
        return enum.__module__, enum.__name__, loaded.weights.name
    except ValueError as error:
        assert "No weights available" in str(error)
        return None
    pytest.fail(f"{name}({kwargs}) built without loading weights")


def _expected(member: tv.WeightsMember | None) -> tuple[str, str, str] | None:
    """Like _loaded, with the enum found where the fix will import it from."""
    if member is None:
        return None
    enum = getattr(importlib.import_module(member.enum_module), member.enum)
    return enum.__module__, member.enum, member.member


WEIGHTS_PARAMS = [
    pytest.param(name, param.name, id=f"{name}-{param.legacy_param}")
    for name, qualified in REGISTRY.items()
    for param in tv.builder(qualified).weights_params
]


@pytest.mark.parametrize(("name", "param"), WEIGHTS_PARAMS)
def test_legacy_mapping_matches_torchvision(intercept_downloads: None, name: str, param: str) -> None:
    spec = tv.builder_by_short_name(name).weights_param(param)
    member = None if spec.legacy_value is None else tv.WeightsMember(spec.enum, spec.enum_module, spec.legacy_value)
    assert _loaded(name, **{spec.legacy_param: True}) == _expected(member)
    for condition, conditional in spec.legacy_value_if.items():
        assert _loaded(name, **{spec.legacy_param: True, condition: True}) == _expected(conditional)


def test_legacy_mapping_spot_checks(intercept_downloads: None) -> None:
    """The cases the sweep above is trusted with, written out, so the sweep cannot pass by comparing nothing."""
    resnet50 = ("torchvision.models.resnet", "ResNet50_Weights", "IMAGENET1K_V1")
    assert _loaded("resnet50", pretrained=True) == resnet50
    assert _loaded("vit_h_14", pretrained=True) is None
    resnet18 = ("torchvision.models.resnet", "ResNet18_Weights", "IMAGENET1K_V1")
    assert _loaded("quantized_resnet18", pretrained=True) == resnet18
    assert _loaded("quantized_resnet18", pretrained=True, quantize=True) == (
        "torchvision.models.quantization.resnet", "ResNet18_QuantizedWeights", "IMAGENET1K_FBGEMM_V1"
    )
    assert _loaded("fasterrcnn_resnet50_fpn", pretrained=True) == (
        "torchvision.models.detection.faster_rcnn", "FasterRCNN_ResNet50_FPN_Weights", "COCO_V1"
    )
    assert _loaded("fasterrcnn_resnet50_fpn", pretrained_backbone=True) == resnet50


# regnet_y_128gf takes over ten seconds to build on the CPU; its siblings share its class and helper.
NUM_CLASSES = [name for name in REGISTRY if name != "regnet_y_128gf"]


@pytest.mark.parametrize("name", NUM_CLASSES)
def test_num_classes_param_matches_torchvision(intercept_downloads: None, name: str) -> None:
    builder = tv.builder_by_short_name(name)
    no_weights = {param.name: None for param in builder.weights_params}
    try:
        _build(name, num_classes=7, **no_weights)
    except TypeError as error:
        assert "num_classes" in str(error)
        accepted = False
    else:
        accepted = True
    assert accepted == builder.num_classes_param
