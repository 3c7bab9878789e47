"""The model story on timm, Hugging Face transformers and PEFT models (issue 17): which events their calls
record, where a head timm puts in sits, what `base_model` is, and how PEFT's own freeze is told apart from
the user's."""

from __future__ import annotations

import textwrap

import pytest

from featlint import lint_source
from featlint.analysis import FileAnalysis
from featlint.analysis.story import Event, EventKind, Story
from featlint.startup.deferred import cst


def _story(source: str) -> Story:
    return FileAnalysis(cst.parse_module(textwrap.dedent(source))).story


def _codes(source: str) -> list[tuple[int, str]]:
    return [(d.start.row, d.code) for d in lint_source(textwrap.dedent(source))]


def _located(event: Event) -> tuple[str, ...]:
    located = event.located()
    assert located is not None
    return located[1]


@pytest.mark.parametrize(
    ("arch", "heads"),
    [("resnet50", [("fc",)]), ("vit_base_patch16_224", [("head",)]), ("convnext_tiny", [("head", "fc")]),
     ("deit_base_distilled_patch16_224", [("head",), ("head_dist",)])],
)
def test_reset_classifier_puts_a_fresh_head_at_the_architectures_head_path(
    arch: str, heads: list[tuple[str, ...]]
) -> None:
    story = _story(f"""\
        import timm
        m = timm.create_model({arch!r}, pretrained=True)
        m.reset_classifier(10)
    """)
    built, *put_in = story.events
    assert built.kind is EventKind.BUILD and built.model is not None and built.model.pretrained
    assert [(e.kind, _located(e), e.fresh, e.has_params, e.partial) for e in put_in] == [
        (EventKind.HEAD, head, True, True, False) for head in heads
    ]
    assert put_in[0].label == "m." + ".".join(heads[0])


def test_reset_classifier_to_zero_classes_leaves_nothing_trainable() -> None:
    story = _story("import timm\nm = timm.create_model('resnet50')\nm.reset_classifier(0)\n")
    head = story.of(EventKind.HEAD)[0]
    assert (_located(head), head.fresh, head.has_params) == (("fc",), False, False)


def test_an_unknown_architecture_or_class_count_claims_nothing_about_the_head() -> None:
    unknown_arch = _story("import timm\nm = timm.create_model(arch)\nm.reset_classifier(10)\n")
    head = unknown_arch.of(EventKind.HEAD)[0]
    assert (_located(head), head.partial, head.label) == ((), True, "m.get_classifier()")
    unknown_count = _story("import timm\nm = timm.create_model('resnet50')\nm.reset_classifier(n)\n")
    assert unknown_count.of(EventKind.HEAD) == []
    change = unknown_count.of(EventKind.FREEZE)[0]
    assert (_located(change), change.value) == (("fc",), None)


def test_get_classifier_is_the_head_module() -> None:
    story = _story("""\
        import timm
        m = timm.create_model("efficientnet_b0", pretrained=True)
        m.get_classifier().requires_grad_(False)
        timm.create_model(arch).get_classifier().requires_grad_(False)
    """)
    known, unknown = story.of(EventKind.FREEZE)
    assert (_located(known), known.partial) == (("classifier",), False)
    assert (_located(unknown), unknown.partial) == ((), True)


@pytest.mark.parametrize(
    ("call", "pretrained"),
    [("AutoModelForSequenceClassification.from_pretrained('bert-base-uncased', num_labels=3)", True),
     ("BertForSequenceClassification.from_pretrained('bert-base-uncased')", True),
     ("AutoModelForSequenceClassification.from_config(config)", False),
     ("BertForSequenceClassification(config)", False)],
)
def test_transformers_models_are_built_with_or_without_weights(call: str, pretrained: bool) -> None:
    story = _story(f"""\
        from transformers import AutoModelForSequenceClassification, BertForSequenceClassification
        m = {call}
    """)
    [built] = story.of(EventKind.BUILD)
    assert built.model is not None and built.model.library and built.model.pretrained is pretrained


def test_tokenizers_and_configs_are_no_models() -> None:
    story = _story("""\
        import torch
        from transformers import AutoConfig, AutoTokenizer
        t = AutoTokenizer.from_pretrained("bert-base-uncased")
        c = AutoConfig.from_pretrained("bert-base-uncased")
    """)
    assert story.models == []


def test_base_model_is_the_backbone_attribute_of_a_known_class() -> None:
    story = _story("""\
        import torch
        from transformers import AutoModelForSequenceClassification, BertForSequenceClassification
        m = BertForSequenceClassification.from_pretrained("bert-base-uncased")
        m.base_model.requires_grad_(False)
        a = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
        a.base_model.requires_grad_(False)
    """)
    known, auto = story.of(EventKind.FREEZE)
    assert _located(known) == ("bert",)
    assert _located(auto) == ("base_model",)  # which backbone an Auto class loads is not written


def test_transformers_optimizers_are_optimizers() -> None:
    source = """\
        from transformers import AdamW, AutoModelForSequenceClassification
        m = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
        m.bert.requires_grad_(False)
        opt = AdamW(m.parameters(), lr=2e-5)
    """
    assert [e.optimizer.klass for e in _story(source).of(EventKind.OPTIMIZER)] == ["AdamW"]  # type: ignore[union-attr]
    assert _codes(source) == [(4, "FL202")]


_PEFT = """\
    import torch
    from peft import AutoPeftModelForSequenceClassification, LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForSequenceClassification
    m = AutoModelForSequenceClassification.from_pretrained("roberta-base", num_labels=3)
    {wrap}
    {after}
    opt = torch.optim.AdamW({params}, lr=2e-4)
"""


@pytest.mark.parametrize(
    ("wrap", "after", "params", "expected"),
    [
        # PEFT's own freeze: the documented optimizer over every parameter is fine
        ("m = get_peft_model(m, LoraConfig(r=8, task_type='SEQ_CLS'))", "", "m.parameters()", []),
        # the user's freeze before wrapping is superseded by PEFT's
        ("m.roberta.requires_grad_(False); m = get_peft_model(m, LoraConfig(r=8))", "", "m.parameters()", []),
        # the user's freeze after wrapping is the user's
        ("m = get_peft_model(m, LoraConfig(r=8))",
         "for n, p in m.named_parameters():\n        if 'lora' not in n: p.requires_grad = False",
         "m.parameters()", [(8, "FL202")]),
        # an adapter loaded for inference: everything frozen
        ("m = PeftModel.from_pretrained(m, 'adapter')", "",
         "filter(lambda p: p.requires_grad, m.parameters())", [(7, "FL203")]),
        ("m = PeftModel.from_pretrained(m, 'adapter', is_trainable=True)", "",
         "filter(lambda p: p.requires_grad, m.parameters())", []),
        # AutoPeftModel loads the base itself: the same
        ("m = AutoPeftModelForSequenceClassification.from_pretrained('adapter')", "",
         "filter(lambda p: p.requires_grad, m.parameters())", [(7, "FL203")]),
        # a wrapped model whose base featlint does not see is still a model
        ("m = get_peft_model(load(), LoraConfig(r=8))", "m.requires_grad_(False)",
         "filter(lambda p: p.requires_grad, m.parameters())", [(7, "FL203")]),
    ],
)
def test_peft_wrapping(wrap: str, after: str, params: str, expected: list[tuple[int, str]]) -> None:
    source = textwrap.dedent(_PEFT).format(wrap=wrap, after=after, params=params)
    found = [(row, code) for row, code in _codes(source) if not code.startswith("FL9")]
    assert found == expected


def test_a_timm_model_inside_the_users_module_keeps_its_head_methods() -> None:
    source = """\
        import timm, torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = timm.create_model("resnet50", pretrained=True)
                for p in self.backbone.parameters():
                    p.requires_grad = False
                self.backbone.reset_classifier(10)

        net = Net()
        opt = torch.optim.Adam(filter(lambda p: p.requires_grad, net.backbone.parameters()), lr=1e-3)
    """
    head = _story(source).of(EventKind.HEAD)[-1]
    assert (head.located()[1], head.label) == (("backbone", "fc"), "self.backbone.fc")  # type: ignore[index]
    assert _codes(source) == []


def test_a_family_replacing_a_whole_head_module_gets_it_whole() -> None:
    # LeViT's classifiers are `head.linear` and `head_dist.linear`; its reset_classifier replaces `head` and
    # `head_dist` whole, and which of the two get_classifier returns is not claimed.
    story = _story("""\
        import timm
        m = timm.create_model("levit_128", pretrained=True)
        m.reset_classifier(10)
        c = timm.create_model("caformer_b36", pretrained=True)
        c.get_classifier().requires_grad_(False)
    """)
    assert [_located(e) for e in story.of(EventKind.HEAD)] == [("head",), ("head_dist",)]
    accessor = story.of(EventKind.FREEZE)[0]
    assert (_located(accessor), accessor.partial) == (("head", "fc"), True)
