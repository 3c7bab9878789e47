"""Messages that state what happens in the case at hand (issue 13): FL401 names the pretrained features only
when pretrained weights train, FL202 says what the optimizer family does with frozen parameters."""

from __future__ import annotations

import pytest

from featlint import lint_source

PRETRAINED = "m = torchvision.models.resnet18(weights='DEFAULT')\n"
SCRATCH = "m = torchvision.models.resnet18(num_classes=10)\n"


def _messages(source: str, code: str) -> list[str]:
    return [d.message for d in lint_source("import torch, torchvision\n" + source, select=[code])]


def test_fl401_names_the_pretrained_features_only_when_they_train() -> None:
    [pretrained] = _messages(PRETRAINED + "opt = torch.optim.SGD(m.parameters(), lr=50)\n", "FL401")
    assert "diverges to NaN within a few steps and the pretrained features are destroyed" in pretrained
    [scratch] = _messages(SCRATCH + "opt = torch.optim.SGD(m.parameters(), lr=50)\n", "FL401")
    assert "diverges to NaN within a few steps;" in scratch and "pretrained" not in scratch
    [unknown] = _messages("opt = torch.optim.SGD(params, lr=50)\n", "FL401")
    assert "pretrained" not in unknown


def test_fl401_says_how_an_adaptive_optimizer_diverges() -> None:
    [adam] = _messages(PRETRAINED + "opt = torch.optim.AdamW(m.parameters(), lr=0.5)\n", "FL401")
    assert "every step moves each weight by up to about 0.5, so training diverges and the pretrained" in adam
    assert "NaN" not in adam


def test_fl401_zero_rate_under_a_multiplying_schedule_still_fires() -> None:
    source = "opt = torch.optim.SGD(params, lr=0)\nsched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)\n"
    [message] = _messages(source, "FL401")
    assert "never moves the weights" in message


FROZEN = PRETRAINED + "for p in m.parameters():\n    p.requires_grad = False\nm.fc = torch.nn.Linear(512, 2)\n"


@pytest.mark.parametrize(
    ("optimizer", "says", "never"),
    [
        ("torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)",
         ["SGD skips them (no momentum buffer, no weight decay)", "at the full lr with momentum and weight decay"],
         ["only cost optimizer state"]),
        ("torch.optim.SGD(m.parameters(), lr=0.01)", ["SGD skips them", "training at the full lr without"],
         ["with momentum"]),
        ("torch.optim.Adam(m.parameters(), lr=1e-3)",
         ["Adam skips them and keeps no state for them", "each weight moves by about lr per step"],
         ["decay toward zero", "only cost optimizer state"]),
        ("torch.optim.AdamW(m.parameters(), lr=1e-3)", ["AdamW skips them", "decay toward zero"], []),
    ],
)
def test_fl202_says_what_the_optimizer_family_does(optimizer: str, says: list[str], never: list[str]) -> None:
    [message] = _messages(FROZEN + f"opt = {optimizer}\n", "FL202")
    assert all(words in message for words in says), message
    assert not any(words in message for words in never), message
