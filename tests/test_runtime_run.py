"""`featlint run` and `featlint check --runtime` on real tiny scripts (fixtures/runtime/), on the CPU."""

from __future__ import annotations

import json
import os
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from .conftest import REPO, run_featlint  # noqa: E402

FIXTURES = "fixtures/runtime"


def _run(script: str, *flags: str, env: dict[str, str] | None = None):
    args = ["run", "--fake-data", "--steps", "3", "--output-format", "json", *flags, f"{FIXTURES}/{script}"]
    if env is None:
        return run_featlint(args)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_featlint(args)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _findings(done) -> list[dict]:
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("bug", "code", "row"),
    [
        ("head_not_used", "FL701", 14),  # the line that assigned the unused head
        ("frozen_after_optimizer", "FL702", 20),  # the optimizer.step() that moved the frozen layer
        ("frozen_batchnorm", "FL703", 22),  # the training forward
        ("head_size_mismatch", "FL704", 9),  # the line that made the wrong-sized layer, inside build()
        ("optimizer_before_head", "FL201", 7),  # the optimizer built before the head
    ],
)
def test_each_bug_is_found_on_its_script_and_not_on_its_corrected_twin(bug: str, code: str, row: int) -> None:
    done = _run(f"{bug}.py")
    found = _findings(done)
    assert done.returncode == 1, done.stderr
    hits = [d for d in found if d["code"] == code]
    assert hits, found
    assert hits[0]["filename"] == f"{FIXTURES}/{bug}.py" and hits[0]["location"]["row"] == row
    twin = _run(f"{bug}_fixed.py")
    assert code not in {d["code"] for d in _findings(twin)}, twin.stdout


def test_an_empty_optimizer_stops_the_script_and_is_reported_with_its_error_output() -> None:
    done = run_featlint(["run", f"{FIXTURES}/everything_frozen.py"])
    assert done.returncode == 1
    assert "everything_frozen.py:10:1: FL203" in done.stdout
    assert "the script failed after 0 optimizer steps: ValueError: optimizer got an empty parameter list" in done.stdout
    assert "--- the script's stderr ---" in done.stderr and "Traceback" in done.stderr
    assert "fc      Linear" in done.stdout  # what was built is still reported


def test_human_report_has_the_module_table_notes_and_findings() -> None:
    done = run_featlint(["run", "--fake-data", "--steps", "2", "--show-params", f"{FIXTURES}/frozen_batchnorm.py"])
    assert done.returncode == 1
    out = done.stdout
    assert "watched 2 optimizer steps, then stopped the script (--steps 2)" in out
    assert "in optimizer" in out and "layer4.1.conv2.weight" in out
    assert "note: ResNet18_Weights.IMAGENET1K_V1 is not in the local torch hub cache" in out
    assert "note: --fake-data: ImageFolder could not be loaded" in out and "of 3 classes" in out
    assert "FL703" in out


def test_weights_in_the_local_hub_cache_are_used(tmp_path) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    torch.nn.init.constant_(model.conv1.weight, 0.5)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    torch.save(model.state_dict(), checkpoints / url.rsplit("/", 1)[1])
    done = _run("cached_weights.py", "--output-format", "concise", env={"TORCH_HOME": str(tmp_path)})
    assert "the script ended after 0 optimizer steps" in done.stdout, done.stdout + done.stderr
    assert "not in the local torch hub cache" not in done.stdout


def test_network_access_fails_fast_with_a_clear_message() -> None:
    started = time.monotonic()
    done = run_featlint(["run", f"{FIXTURES}/network.py"])
    assert time.monotonic() - started < 100  # the script asked for a 600 s timeout
    assert done.returncode == 2
    assert "featlint run blocks network access (tried to reach download.example.org:80)" in done.stderr
    assert "note: the script tried to reach download.example.org:80" in done.stdout


def test_the_timeout_stops_the_script_and_reports_what_it_built() -> None:
    done = run_featlint(["run", "--timeout", "12", f"{FIXTURES}/hangs.py"])
    assert "timed out after 12 s, having watched 0 optimizer steps" in done.stdout, done.stdout + done.stderr
    assert "fc      Linear" in done.stdout
    # What was built is still checked: the backbone trains but the optimizer only holds the head.
    assert "hangs.py:8:1: FL201" in done.stdout and done.returncode == 1


def test_meta_device_builds_regnet_and_checks_optimizer_membership() -> None:
    done = run_featlint(["run", "--device", "meta", "--output-format", "concise", f"{FIXTURES}/meta_regnet.py"])
    assert "meta_regnet.py:8:1: FL201" in done.stdout, done.stdout + done.stderr
    assert "note: meta device: parameter values were not compared" in done.stdout


@pytest.mark.parametrize("fmt", ["sarif", "github", "full"])
def test_every_output_format_of_check_works_for_run(fmt: str) -> None:
    done = run_featlint(["run", "--output-format", fmt, f"{FIXTURES}/everything_frozen.py"])
    assert done.returncode == 1
    if fmt == "sarif":
        [result] = json.loads(done.stdout)["runs"][0]["results"]
        assert result["ruleId"] == "FL203"
    elif fmt == "github":
        assert "::error title=featlint (FL203)" in done.stdout or "FL203" in done.stdout.split("::")[1]
    else:
        assert "optimizer = torch.optim.SGD(filter(" in done.stdout  # the code frame


def test_check_runtime_confirms_static_findings_and_adds_runtime_only_ones() -> None:
    done = run_featlint(["check", "--runtime", "--output-format", "json", f"{FIXTURES}/optimizer_before_head.py"])
    found = _findings(done)
    fl201 = [d for d in found if d["code"] == "FL201"]
    assert fl201 and all(d["message"].endswith("[confirmed by the run]") for d in fl201)
    assert len(fl201) == 1  # the runtime's own FL201 is folded into the static one it confirms
    done = run_featlint(["check", "--runtime", "--output-format", "json", f"{FIXTURES}/head_size_mismatch.py"])
    found = _findings(done)
    # The failing forward either confirms the static head-size finding (FL301) or is added as FL704.
    assert "FL704" in {d["code"] for d in found} or any(
        d["code"] == "FL301" and d["message"].endswith("[confirmed by the run]") for d in found), found


def test_script_arguments_after_the_separator_reach_the_script(tmp_path) -> None:
    script = tmp_path / "args.py"
    script.write_text("import sys\nif sys.argv[1:] != ['--lr', '0.5']:\n    raise SystemExit(3)\n")
    done = run_featlint(["run", str(script), "--", "--lr", "0.5"], cwd=REPO)
    assert "the script ended after 0 optimizer steps" in done.stdout, done.stdout
    assert done.returncode == 0
    done = run_featlint(["run", str(script), "--", "--lr", "0.1"], cwd=REPO)
    assert "the script failed after 0 optimizer steps: SystemExit: 3" in done.stdout and done.returncode == 2


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA device")
def test_run_on_cuda_finds_the_unused_head() -> None:
    done = _run("head_not_used.py", "--device", "cuda")
    assert "FL701" in {d["code"] for d in _findings(done)}


def test_a_notebook_runs_its_code_cells_in_order_and_findings_name_cells(tmp_path) -> None:
    from .notebook_form import notebook

    lines = (REPO / FIXTURES / "optimizer_before_head.py").read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "optimizer" in line and "=" in line)
    script = "".join(["# In[1]:\n!pip install torchvision\n%matplotlib inline\n", *lines[:cut], "# Markdown:\nThe optimizer.\n",
                      "# In[2]:\n", *lines[cut:]])
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(script))
    done = run_featlint(["run", "--fake-data", "--steps", "3", "--output-format", "json", str(path)])
    assert done.returncode == 1, done.stderr
    assert "note: not run (IPython syntax, magics and shell commands): cell 1 line 1, cell 1 line 2" in done.stderr
    hits = [d for d in _findings(done) if d["code"] == "FL201"]
    assert hits and hits[0]["filename"] == str(path) and (hits[0]["cell"], hits[0]["location"]["row"]) == (3, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]  # the temporary script is gone
