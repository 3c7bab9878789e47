"""`featlint.runtime.audit` used the way a user's own test suite would use it."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
nn = torch.nn

from featlint.diagnostics import Diagnostic  # noqa: E402
from featlint.runtime import audit  # noqa: E402

IMAGES = (2, 3, 32, 32)


def _small(classes: int = 2):
    """A tiny convolutional model: what audit checks does not depend on the size."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes)
    )


def _codes(report) -> set[str]:
    return {d.code for d in report.findings}


def _linear_probe():
    model = torchvision.models.resnet18(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, 3)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    return model, torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)


def test_a_correct_linear_probe_has_no_errors_and_rows_say_what_trains() -> None:
    model, optimizer = _linear_probe()
    report = audit(model, optimizer, torch.randn(*IMAGES))
    assert not report.errors
    assert report.findings == []
    rows = {row.name: row for row in report.rows}
    head = rows["fc.weight"]
    assert (head.requires_grad, head.optimizer, head.group, head.lr, head.got_grad, head.changed) == (
        True, 0, 0, 0.01, True, True)
    assert head.shape == (3, 512) and head.numel == 1536
    backbone = rows["layer4.1.conv2.weight"]
    assert (backbone.requires_grad, backbone.optimizer, backbone.got_grad, backbone.changed) == (
        False, None, False, False)
    modules = {m.module: m for m in report.modules}
    assert modules["fc"].trainable == modules["fc"].in_optimizer == modules["fc"].got_grad == 1539
    assert modules["layer4"].trainable == 0 and modules["layer4"].frozen == modules["layer4"].params > 0


def test_the_users_model_optimizer_and_random_state_are_left_exactly_as_they_were() -> None:
    model = _small()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(*IMAGES)).sum().backward()
    optimizer.step()
    model[1].eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    optimizer_state = {k: v["momentum_buffer"].clone() for k, v in optimizer.state.items()}
    modes = [m.training for m in model.modules()]
    rng = torch.get_rng_state()
    audit(model, optimizer)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(grads[n], p.grad) for n, p in model.named_parameters())
    assert all(torch.equal(optimizer_state[p], optimizer.state[p]["momentum_buffer"]) for p in optimizer_state)
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(rng, torch.get_rng_state())


def test_optimizer_built_before_the_head_is_fl201_and_frozen_params_in_it_fl202() -> None:
    model = torchvision.models.resnet18(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.fc = nn.Linear(512, 2)
    report = audit(model, optimizer, torch.randn(*IMAGES))
    assert {"FL201", "FL202", "FL203"} <= _codes(report)
    fl201 = next(d for d in report.findings if d.code == "FL201")
    assert "`fc.weight`" in fl201.message and fl201.path == __file__
    assert {d.code for d in report.errors} >= {"FL201", "FL203"}


def test_a_head_the_forward_never_calls_gets_no_gradient_fl701() -> None:
    model = torchvision.models.mobilenet_v3_small(weights=None)
    model.fc = nn.Linear(1024, 10)
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.01), torch.randn(*IMAGES))
    assert [d.code for d in report.errors] == ["FL701"]
    assert "`fc`" in report.errors[0].message
    fixed = torchvision.models.mobilenet_v3_small(weights=None)
    fixed.classifier[3] = nn.Linear(1024, 10)
    assert not audit(fixed, torch.optim.SGD(fixed.parameters(), lr=0.01), torch.randn(*IMAGES)).findings


def test_a_layer_frozen_after_its_optimizer_stepped_with_momentum_moves_fl702() -> None:
    def trained(freeze_zero_grads: bool):
        model = _small()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(torch.randn(*IMAGES)).sum().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=not freeze_zero_grads)
        model[0].requires_grad_(False)
        return model, optimizer

    assert "FL702" in _codes(audit(*trained(True), torch.randn(*IMAGES)))
    assert "FL702" not in _codes(audit(*trained(False), torch.randn(*IMAGES)))


def test_frozen_batchnorm_in_train_mode_fl703_and_not_in_eval_mode() -> None:
    model = _small()
    model[:2].requires_grad_(False)
    optimizer = torch.optim.SGD(model[5].parameters(), lr=0.01)
    warnings = [d for d in audit(model, optimizer, torch.randn(*IMAGES)).findings if d.code == "FL703"]
    assert len(warnings) == 1 and "`1`" in warnings[0].message
    model[1].eval()
    assert audit(model, optimizer, torch.randn(*IMAGES)).findings == []


def test_a_failing_forward_names_the_layer_and_its_sizes_fl704() -> None:
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(2048, 10)
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.01), torch.randn(*IMAGES))
    [failure] = report.errors
    assert failure.code == "FL704"
    assert "`fc`" in failure.message and "2x512" in failure.message and "2048 input features" in failure.message
    assert all(row.got_grad is None for row in report.rows)


def test_without_an_input_one_is_made_from_the_architecture() -> None:
    inception = torchvision.models.inception_v3(weights=None, init_weights=False, aux_logits=True)
    report = audit(inception, torch.optim.SGD(inception.parameters(), lr=0.01), device="meta")
    assert not report.errors  # 299x299 and the InceptionOutputs tuple both handled
    assert report.rows and all(row.got_grad for row in report.rows if row.requires_grad)


def test_meta_device_checks_structure_without_comparing_values() -> None:
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.fc = nn.Linear(512, 2, device="meta")
    report = audit(model, optimizer)
    assert "FL201" in _codes(report)
    assert all(row.changed is None for row in report.rows)
    assert any("meta" in note for note in report.notes)


def test_report_table_and_json_are_readable_and_round_trip() -> None:
    model, optimizer = _linear_probe()
    report = audit(model, optimizer, torch.randn(*IMAGES))
    table = report.table()
    assert "in optimizer" in table and "fc.weight" in table and "layer4" in table
    data = json.loads(report.to_json())
    assert {p["name"] for p in data["parameters"]} == {r.name for r in report.rows}
    assert all(isinstance(d, Diagnostic) for d in report.findings)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_audit_on_cuda_finds_the_unused_head() -> None:
    model = torchvision.models.mobilenet_v3_small(weights=None)
    model.fc = nn.Linear(1024, 10)
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.01), device="cuda")
    assert "FL701" in _codes(report)
    assert next(model.parameters()).device.type == "cpu"  # the user's model did not move


class _TextClassifier(nn.Module):
    """Token ids -> embedding -> LSTM -> class scores: it takes integers, not images."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(100, 8)
        self.lstm = nn.LSTM(8, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, ids):
        output, _ = self.lstm(self.embedding(ids))
        return self.head(output[:, -1])


class _Opaque(nn.Module):
    """Starts with a layer norm: nothing tells what it takes."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(6)
        self.scale = nn.Parameter(torch.ones(6))

    def forward(self, x):
        return self.norm(x) * self.scale


def test_an_embedding_model_gets_token_ids_and_is_not_blamed_for_audits_own_guess() -> None:
    model = _TextClassifier()
    report = audit(model, torch.optim.Adam(model.parameters()))
    assert report.findings == [] and all(row.got_grad for row in report.rows)


def test_audit_asks_for_an_example_input_instead_of_reporting_the_model_broken() -> None:
    from featlint.runtime import NeedsExampleInput

    model = _Opaque()
    with pytest.raises(NeedsExampleInput, match="cannot tell what _Opaque takes.*pass example_input="):
        audit(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not audit(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.randn(2, 6)).findings
    linear_first = nn.Sequential(nn.Linear(6, 4), nn.Unflatten(1, (1, 4)), nn.Conv1d(2, 2, 1))  # the guess fails
    with pytest.raises(NeedsExampleInput, match=r"did not take the input audit made for it \(2x6 float32\)"):
        audit(linear_first)


def test_a_timm_model_gets_its_own_input_size() -> None:
    timm = pytest.importorskip("timm")
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3)
    from featlint.runtime.inputs import example_input

    assert tuple(example_input(model).shape) == (2, *model.pretrained_cfg["input_size"])
    assert not audit(model, torch.optim.SGD(model.parameters(), lr=0.1), device="meta").errors


def test_a_hugging_face_model_gets_inputs_from_its_config() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, num_labels=2)
    model = transformers.BertForSequenceClassification(config)
    report = audit(model, torch.optim.AdamW(model.parameters()))
    assert not report.errors, report.errors


def _tiny_bert_lora():
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, num_labels=3)
    lora = peft.LoraConfig(task_type="SEQ_CLS", target_modules=["query", "value"], r=4)
    return peft.get_peft_model(transformers.BertForSequenceClassification(config), lora)


def test_a_peft_model_reports_peft_s_own_trainable_counts(capsys: pytest.CaptureFixture[str]) -> None:
    model = _tiny_bert_lora()
    model.print_trainable_parameters()
    printed = capsys.readouterr().out.strip()  # "trainable params: N || all params: M || trainable%: P"
    report = audit(model, torch.optim.AdamW([p for p in model.parameters() if p.requires_grad]))
    assert not report.findings, report.findings
    trainable, total = model.get_nb_trainable_parameters()
    [counts] = report.to_dict()["peft"]
    assert counts == {"model": "model", "trainable_params": trainable, "all_params": total,
                      "trainable_percent": round(100 * trainable / total, 4)}
    assert f"peft: {printed}" in report.table(parameters=False).splitlines()
    # The table looks through PEFT's wrappers to the model it adapts: the encoder and the head, not one row.
    modules = {m.module: m for m in report.modules}
    assert set(modules) == {"base_model.model.bert", "base_model.model.classifier"}
    assert modules["base_model.model.bert"].kind == "BertModel"
    assert 0 < modules["base_model.model.bert"].trainable < modules["base_model.model.bert"].params
    assert sum(m.trainable for m in modules.values()) == trainable  # the head is trained too (task_type)


def test_a_model_without_peft_has_no_peft_counts() -> None:
    model = _small()
    report = audit(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.randn(*IMAGES))
    assert report.adapters == [] and report.to_dict()["peft"] == []
    assert "peft:" not in report.table()


def test_a_hugging_face_image_model_gets_pixels_at_its_config_size() -> None:
    """transformers' default dummy inputs are token ids, also for a ViT: audit must feed it pixel values."""
    transformers = pytest.importorskip("transformers")
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=32, num_labels=3)
    model = transformers.ViTForImageClassification(config)
    from featlint.runtime.inputs import example_input

    made = example_input(model)
    assert list(made) == ["pixel_values"] and tuple(made["pixel_values"].shape) == (2, 3, 32, 32)
    report = audit(model, torch.optim.AdamW(model.parameters()))
    assert not report.findings and all(row.got_grad for row in report.rows if "pooler" not in row.name)


def test_peft_counts_survive_the_trip_from_the_child() -> None:
    """`featlint run`'s parent rebuilds the report from the child's JSON: the PEFT line must come back."""
    from featlint.runtime.report import AdapterCounts, ParamRow, Report

    rows = [ParamRow("base_model.model.encoder.weight", (4, 4), 16, False),
            ParamRow("base_model.model.encoder.lora_A.weight", (1, 4), 4, True)]
    report = Report(rows, [], {"base_model.model.encoder": "Linear"}, adapters=[AdapterCounts("model", 4, 20)])
    again = Report.from_dict(json.loads(report.to_json()))
    assert again.adapters == report.adapters and again.table() == report.table()
    assert "peft: trainable params: 4 || all params: 20 || trainable%: 20.0000" in again.table().splitlines()
    assert [m.module for m in again.modules] == ["base_model.model.encoder"]


def test_with_several_models_the_table_has_each_model_s_modules() -> None:
    from featlint.runtime.report import ParamRow, Report

    rows = [ParamRow("student.0.weight", (2, 4), 8, True), ParamRow("teacher.0.weight", (4, 4), 16, False),
            ParamRow("teacher.2.weight", (2, 4), 8, False), ParamRow("teacher.scale", (1,), 1, False)]
    kinds = {"student.0": "Linear", "teacher.0": "Linear", "teacher.2": "Linear", "teacher": "Scaled"}
    modules = [(m.module, m.kind, m.params) for m in Report(rows, [], kinds).modules]
    assert modules == [("student.0", "Linear", 8), ("teacher.0", "Linear", 16), ("teacher.2", "Linear", 8),
                       ("teacher", "Scaled", 1)]
