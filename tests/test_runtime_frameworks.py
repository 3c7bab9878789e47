"""Training frameworks under `featlint run`: their optimizer steps are the steps, as in a hand-written loop.
Each test is skipped where its framework is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO, run_featlint

pytest.importorskip("torch")


def _needs(module: str) -> None:
    """Skip unless the child of `featlint run` (whose PYTHONPATH is the repository) can import `module`."""
    pytest.importorskip(module)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True).returncode:
        pytest.skip(f"{module} is importable here only through this session's PYTHONPATH")


def _run(script: str) -> dict:
    done = run_featlint(["run", "--steps", "2", "--output-format", "json", f"fixtures/runtime/{script}"])
    return json.loads(done.stdout)


@pytest.mark.slow  # imports transformers in the child
def test_a_hugging_face_trainer_run_is_watched() -> None:
    _needs("transformers")
    data = _run("hf_trainer.py")
    assert data["status"] == "stopped" and data["steps"] == 2, data["headline"]
    [finding] = data["findings"]
    assert finding["code"] == "FL701" and "`head`" in finding["message"] and finding["location"]["row"] == 9


def test_a_lightning_fit_is_watched() -> None:
    _needs("lightning")
    data = _run("lightning_fit.py")
    assert data["status"] == "stopped" and data["steps"] == 2, data["headline"]
    assert {f["code"] for f in data["findings"]} == {"FL201", "FL202", "FL203"}
    assert all(f["location"]["row"] == 26 for f in data["findings"])  # configure_optimizers' optimizer
    assert data["modules"][1] == {"module": "head", "kind": "Linear", "params": 1026, "trainable": 1026,
                                  "frozen": 0, "in_optimizer": 0, "got_grad": 1026, "changed": 0}


def test_a_correct_lightning_fit_is_clean() -> None:
    """Its sanity check (validation in eval mode) and `self.log` (a torchmetrics Metric, whose `__hash__`
    fails while `nn.Module.__init__` runs) are Lightning's, not the user's mistakes."""
    _needs("lightning")
    data = _run("lightning_fit_fixed.py")
    assert data["status"] == "stopped" and data["steps"] == 2, data["headline"]
    assert data["findings"] == []
    assert data["modules"][1]["changed"] == 1026


@pytest.mark.slow  # imports transformers and peft in the child
def test_a_peft_model_shows_peft_s_counts_in_the_run_report() -> None:
    _needs("peft")
    data = _run("peft_lora.py")
    assert data["status"] == "stopped" and data["steps"] == 2 and data["findings"] == [], data["headline"]
    [counts] = data["peft"]
    assert counts["model"] == "model" and counts["trainable_params"] == sum(m["trainable"] for m in data["modules"])
    assert counts["all_params"] == sum(m["params"] for m in data["modules"])
    assert [m["module"] for m in data["modules"]] == ["base_model.model.bert", "base_model.model.classifier"]
    text = run_featlint(["run", "--steps", "2", "fixtures/runtime/peft_lora.py"]).stdout
    assert (f"peft: trainable params: {counts['trainable_params']:,} || all params: {counts['all_params']:,} || "
            f"trainable%: {counts['trainable_percent']:.4f}") in text.splitlines()
