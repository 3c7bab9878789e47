"""The shipped timm, transformers and PEFT knowledge, checked against the libraries it claims to describe.

Regenerating everything takes minutes of CPU (1,151 timm architectures, 267 transformers classes), so the
test rebuilds a fixed sample with the generator's own functions and compares it with the shipped entries,
and checks the parts that cost little (versions, every timm tag's configuration and family, the PEFT facts)
in full. `scripts/gen_hub_knowledge.py --check` compares everything.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from featlint.analysis import hub_knowledge as hk

pytestmark = [pytest.mark.filterwarnings("ignore")]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "featlint" / "data"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_hub_knowledge", REPO / "scripts" / "gen_hub_knowledge.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_transformers_sample_matches_the_installed_library() -> None:
    transformers = pytest.importorskip("transformers")
    generator = _generator()
    shipped = json.loads((DATA / "transformers.json").read_text(encoding="utf-8"))
    assert shipped["transformers_version"] == transformers.__version__
    sample = sorted(shipped["classification"])[::25] + [
        "BertForSequenceClassification", "DistilBertForSequenceClassification", "LlamaForSequenceClassification",
        "RobertaForTokenClassification", "ViTForImageClassification", "GPT2ForSequenceClassification",
    ]
    for name in sample:
        expected = dict(shipped["classification"][name])
        if "error" in expected:
            continue
        entry, names = generator.hf_class(name, expected["task"])
        expected.pop("parameters")
        assert entry == expected, name
        assert sorted(names) == sorted(hk.hf_parameter_names(name)), name


def test_transformers_heads_of_well_known_classes() -> None:
    """The head and backbone names the FL9xx rules quote, as the public reports describe them."""
    heads = {
        "BertForSequenceClassification": ("classifier", "bert"),
        "DistilBertForSequenceClassification": ("classifier", "distilbert"),
        "RobertaForSequenceClassification": ("classifier", "roberta"),
        "GPT2ForSequenceClassification": ("score", "transformer"),
        "LlamaForSequenceClassification": ("score", "model"),
        "ViTForImageClassification": ("classifier", "vit"),
    }
    for name, (head, backbone) in heads.items():
        found = hk.hf_classifier(name)
        assert found is not None and (found.head, found.backbone) == (head, backbone), name
    assert any("pre_classifier" in n for n in hk.hf_parameter_names("DistilBertForSequenceClassification"))
    assert hk.hf_classifier("RobertaForSequenceClassification").head_type == "RobertaClassificationHead"
    assert hk.is_hf_model_class("BertModel") and not hk.is_hf_model_class("BertTokenizer")


def test_peft_knowledge_matches_the_installed_library() -> None:
    pytest.importorskip("peft")
    generator = _generator()
    shipped = json.loads((DATA / "peft.json").read_text(encoding="utf-8"))
    assert generator.peft_knowledge() == shipped
    assert hk.peft_task_types_training_head() == {"SEQ_CLS", "TOKEN_CLS"}


def test_timm_sample_matches_the_installed_library() -> None:
    timm = pytest.importorskip("timm")
    generator = _generator()
    shipped = json.loads((DATA / "timm.json").read_text(encoding="utf-8"))
    assert shipped["timm_version"] == timm.__version__
    # Every tag's configuration (cheap: no model is built).
    tags = generator.timm_tags()
    assert sorted(tags) == sorted(shipped["architectures"])
    from timm.models import get_pretrained_cfg

    for arch, arch_tags in tags.items():
        entry = shipped["architectures"][arch]
        assert [tag for tag, _ in entry["tags"]] == arch_tags, arch
        for tag, index in entry["tags"]:
            cfg = get_pretrained_cfg(f"{arch}.{tag}").to_dict()
            assert shipped["cfgs"][index] == {k: generator._jsonable(cfg.get(k)) for k in generator.TIMM_CFG_FIELDS}
    families = generator.timm_families()
    assert all(entry["family"] == families[arch] for arch, entry in shipped["architectures"].items())
    # Every architecture is built in the shipped file; here a fixed sample of them, plus the ones the
    # reference notes name and an encoder without a classifier (all 1,151 take minutes of CPU:
    # `scripts/gen_hub_knowledge.py --check`).
    sample = sorted(tags)[::300] + ["resnet50", "vit_base_patch16_224", "convnext_tiny", "mobilenetv3_large_100",
                                    "qwen3_vit_88m_enc"]
    for arch in sample:
        entry = shipped["architectures"][arch]
        assert "error" not in entry, arch
        shape, sizes = generator._shape_of(generator.timm_architecture(arch))
        assert (shipped["shapes"][entry["shape"]], {k: entry[k] for k in sizes}) == (shape, sizes), arch
        assert set(entry) == {"family", "tags", "shape", *sizes}, arch


def test_timm_heads_of_well_known_architectures() -> None:
    heads = {"resnet50": "fc", "vit_base_patch16_224": "head", "convnext_tiny": "head.fc",
             "efficientnet_b0": "classifier"}
    for arch, head in heads.items():
        found = hk.timm_architecture(arch)
        assert found is not None and found.head == head, arch
    resnet = hk.timm_architecture("resnet50.a1_in1k")  # a tag, and not the first of its family
    assert resnet is not None and (resnet.num_features, resnet.head_in) == (2048, 2048) and resnet.batchnorm
    assert resnet.reset == ("fc", "global_pool") and resnet.children[-1] == "fc"
    # The head takes more than the pooled features: a 1280-wide layer sits between them.
    mobilenet = hk.timm_architecture("mobilenetv3_large_100")
    assert mobilenet is not None and (mobilenet.num_features, mobilenet.head_in) == (960, 1280)
    convnext = hk.timm_architecture("convnext_tiny")
    assert convnext is not None and not convnext.batchnorm and convnext.reset == ("head.fc",)
    # A language model's vision tower: built, but without get_classifier or reset_classifier.
    encoder = hk.timm_architecture("qwen3_vit_88m_enc")
    assert encoder is not None and encoder.head_types is None and encoder.reset is None and encoder.head_in is None
    assert hk.timm_architecture("no_such_model") is None
    vit = hk.timm_pretrained("vit_base_patch16_224")
    assert vit is not None and vit.mean == (0.5, 0.5, 0.5) and vit.input_size == (3, 224, 224)
