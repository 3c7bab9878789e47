"""The head and architecture rules on whole scripts, one buggy and one clean script per torchvision family,
and the resolver they share (featlint.analysis.architectures); the data rules (FL6) and the class-count
and softmax head rules on the scripts of fixtures/knowledge/data.

Each buggy fixture marks the lines that must be reported with `# expect: CODE[, CODE]`; every other line
must stay silent, and the clean twin must be silent for every FL3 rule (and every FL6 rule, in data/).
"""

from __future__ import annotations

import re
from pathlib import Path

import libcst as cst
import pytest

from featlint import lint_source
from featlint.analysis import FileAnalysis

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
FAMILIES = [
    "resnet", "resnext", "wide_resnet", "vgg", "alexnet", "densenet", "mobilenet_v2", "mobilenet_v3",
    "efficientnet", "efficientnet_v2", "convnext", "vit", "swin", "swin_v2", "maxvit", "regnet_x", "regnet_y",
    "shufflenet", "mnasnet", "squeezenet", "googlenet", "inception_v3",
]
EXPECT = re.compile(r"#\s*expect:\s*(FL\d{3}(?:\s*,\s*FL\d{3})*)")


def _expected(text: str) -> set[tuple[int, str]]:
    found = set()
    for row, line in enumerate(text.splitlines(), start=1):
        match = EXPECT.search(line)
        if match:
            found.update((row, code.strip()) for code in match.group(1).split(","))
    return found


def _reported(text: str, path: Path, select: tuple[str, ...] = ("FL3",)) -> set[tuple[int, str]]:
    return {(d.start.row, d.code) for d in lint_source(text, path=str(path), select=list(select))}


def test_every_family_has_fixtures() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.py")) == sorted(
        f"{family}_{kind}.py" for family in FAMILIES for kind in ("buggy", "clean")
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_buggy_fixture_reports_exactly_the_marked_lines(family: str) -> None:
    path = FIXTURES / f"{family}_buggy.py"
    text = path.read_text(encoding="utf-8")
    expected = _expected(text)
    assert {code for _, code in expected} >= {"FL301", "FL302"}
    assert _reported(text, path) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_clean_fixture_is_silent(family: str) -> None:
    path = FIXTURES / f"{family}_clean.py"
    assert _reported(path.read_text(encoding="utf-8"), path) == set()


DATA_SCRIPTS = sorted(p.name.removesuffix("_buggy.py") for p in (FIXTURES / "data").glob("*_buggy.py"))


def test_data_scripts_come_in_pairs_and_cover_the_rules() -> None:
    assert sorted(p.name for p in (FIXTURES / "data").glob("*.py")) == sorted(
        f"{name}_{kind}.py" for name in DATA_SCRIPTS for kind in ("buggy", "clean")
    )
    marked = {code for name in DATA_SCRIPTS for _, code in _expected((FIXTURES / "data" / f"{name}_buggy.py").read_text())}
    assert marked >= {"FL306", "FL308", "FL601", "FL602", "FL603"}


@pytest.mark.parametrize("name", DATA_SCRIPTS)
def test_data_buggy_script_reports_exactly_the_marked_lines(name: str) -> None:
    path = FIXTURES / "data" / f"{name}_buggy.py"
    text = path.read_text(encoding="utf-8")
    assert _reported(text, path, ("FL3", "FL6")) == _expected(text)


@pytest.mark.parametrize("name", DATA_SCRIPTS)
def test_data_clean_script_is_silent(name: str) -> None:
    path = FIXTURES / "data" / f"{name}_clean.py"
    assert _reported(path.read_text(encoding="utf-8"), path, ("FL3", "FL6")) == set()


def _analysis(source: str) -> tuple[FileAnalysis, cst.Module]:
    module = cst.parse_module(source)
    return FileAnalysis(module), module


def _builder_of_last(source: str) -> str | None:
    analysis, module = _analysis(source)
    last = module.body[-1].body[0]  # type: ignore[attr-defined]
    builder = analysis.architectures.builder_of(last.value, analysis.facts.module_scope)
    return builder.name if builder is not None else None


@pytest.mark.parametrize(("source", "expected"), [
    ("from torchvision import models\nm = models.resnet18()\nm\n", "resnet18"),
    ("import torchvision\nm = torchvision.models.get_model('vgg16', weights=None).cuda()\nm\n", "vgg16"),
    ("from torchvision import models\ndef make():\n    net = models.swin_t()\n    return net\nm = make()\nm\n", "swin_t"),
    ("import copy\nfrom torchvision import models\nm = copy.deepcopy(models.alexnet())\nm\n", "alexnet"),
    ("from torchvision import models\nm = models.resnet18()\nm = models.resnet50()\nm\n", None),
    ("from torchvision import models\nm = models.resnet18()\nm = Wrapper(m)\nm\n", None),
    ("from torchvision import models\nm = models.__dict__[arch]()\nm\n", None),
    ("import timm\nm = timm.create_model('resnet50')\nm\n", None),
])
def test_builder_of(source: str, expected: str | None) -> None:
    assert _builder_of_last(source) == expected


def test_locate_and_sizes() -> None:
    source = (
        "import torch.nn as nn\nfrom torchvision import models\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = models.mobilenet_v3_large()\n"
        "        self.body.classifier[-1] = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.body.classifier[-1].in_features * 1, 7))\n"
    )
    analysis, _ = _analysis(source)
    archs = analysis.architectures
    (assignment,) = archs.assignments()
    assert (assignment.located.builder.name, assignment.located.path) == ("mobilenet_v3_large", "classifier.3")
    new = archs.new_layer(assignment.value, assignment.scope)
    assert new is not None and new.type == "Sequential" and new.layers is not None
    linear = new.layers[1]
    assert linear is not None and (linear.in_size, linear.out_size) == (1280, 7)


def test_weights_of_builder_calls() -> None:
    source = (
        "import torchvision\nfrom torchvision import models\n"
        "a = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)\n"
        "b = models.resnet50(pretrained=True)\n"
        "c = torchvision.models.get_model('vit_b_16', weights='IMAGENET1K_SWAG_E2E_V1')\n"
        "d = models.resnet50()\n"
        "e = models.resnet50(weights=args.weights)\n"
    )
    analysis, _ = _analysis(source)
    archs = analysis.architectures
    found = [repr(archs.weights_of(origin)) for origin in archs.built_models()]
    assert found == [
        "Weights(ResNet50_Weights.IMAGENET1K_V2)", "Weights(ResNet50_Weights.IMAGENET1K_V1)",
        "Weights(ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1)", "NONE", "UNKNOWN",
    ]
