"""`featlint run` and `featlint check --runtime` on real tiny scripts (fixtures/runtime/), on the CPU.

Each run starts a child process that imports torch (seconds on a busy machine), so tests that look at the same
run share it (`_run` is memoised) and one run answers several questions where it can.
"""

from __future__ import annotations

import functools
import json
import os
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from .conftest import REPO, run_featlint  # noqa: E402

FIXTURES = "fixtures/runtime"


@functools.lru_cache(maxsize=None)
def _run(script: str, *flags: str):
    return run_featlint(["run", "--fake-data", "--steps", "3", "--output-format", "json", *flags,
                         f"{FIXTURES}/{script}"])


def _run_with_env(args: list[str], env: dict[str, str]):
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
    return json.loads(done.stdout)["findings"]


@pytest.mark.parametrize(
    ("bug", "code", "row", "column", "flags"),
    [
        ("head_not_used", "FL701", 14, 1, ()),  # the line that assigned the unused head
        ("frozen_after_optimizer", "FL702", 20, 5, ()),  # the optimizer.step() that moved the frozen layer
        ("frozen_batchnorm", "FL703", 19, 1, ("--extend-select", "FL703")),  # the model.train() (opt-in rule)
        ("head_size_mismatch", "FL704", 9, 5, ()),  # the assignment of the wrong-sized layer, in build()
        ("optimizer_before_head", "FL201", 7, 13, ()),  # the optimizer built before the head
    ],
)
def test_each_bug_is_found_on_its_script_and_not_on_its_corrected_twin(
        bug: str, code: str, row: int, column: int, flags: tuple[str, ...]) -> None:
    done = _run(f"{bug}.py", *flags)
    found = _findings(done)
    assert done.returncode == 1, done.stderr
    hits = [d for d in found if d["code"] == code]
    assert hits, found
    assert hits[0]["filename"] == f"{FIXTURES}/{bug}.py"
    assert (hits[0]["location"]["row"], hits[0]["location"]["column"]) == (row, column)
    twin = _run(f"{bug}_fixed.py", *flags)
    assert code not in {d["code"] for d in _findings(twin)}, twin.stdout


def test_frozen_batchnorm_statistics_are_opt_in_like_their_static_twin() -> None:
    from featlint.rules import RULES_BY_CODE

    assert not RULES_BY_CODE["FL703"].default_enabled and not RULES_BY_CODE["FL501"].default_enabled
    done = run_featlint(["run", "--fake-data", "--steps", "2", "--show-params", f"{FIXTURES}/frozen_batchnorm.py"])
    assert "FL703" not in done.stdout and done.returncode == 0, done.stdout + done.stderr
    out = done.stdout  # the human report: table, parameter rows, notes
    assert "watched 2 optimizer steps, then stopped the script (--steps 2)" in out
    assert "in optimizer" in out and "layer4.1.conv2.weight" in out
    assert "note: ResNet18_Weights.IMAGENET1K_V1 is not in the local cache" in out
    assert "note: --fake-data: ImageFolder could not be loaded" in out and "of 3 classes" in out


def test_the_json_report_carries_the_table_rows_notes_and_what_each_finding_involves() -> None:
    data = json.loads(_run("optimizer_before_head.py").stdout)
    assert data["schema"] == "featlint-run/1" and data["status"] == "stopped" and data["steps"] == 3
    assert set(data["columns"]) == {"params", "trainable", "frozen", "in optimizer", "got grad", "changed"}
    modules = {m["module"]: m for m in data["modules"]}
    assert modules["fc"]["in_optimizer"] == 0 and modules["fc"]["got_grad"] == 1026
    rows = {r["name"]: r for r in data["parameters"]}
    assert rows["fc.weight"]["optimizer"] is None and rows["conv1.weight"]["changed"] is True
    [fl201] = data["findings"]
    assert {r["row"] for r in fl201["related"]} == {7, 8} and "fc" in fl201["subjects"]
    frozen = json.loads(_run("frozen_batchnorm.py", "--extend-select", "FL703").stdout)
    assert any("--fake-data" in note for note in frozen["notes"])


def test_a_layer_frozen_in_a_later_step_reads_frozen_and_what_its_last_step_did() -> None:
    # conv1 is frozen before step 2 of 3 and still moved by momentum (FL702): the columns describe the end.
    data = json.loads(_run("frozen_after_optimizer.py").stdout)
    conv1 = {m["module"]: m for m in data["modules"]}["conv1"]
    assert (conv1["trainable"], conv1["frozen"], conv1["got_grad"], conv1["changed"]) == (0, 9408, 0, 9408)
    fixed = json.loads(_run("frozen_after_optimizer_fixed.py").stdout)
    conv1 = {m["module"]: m for m in fixed["modules"]}["conv1"]
    assert (conv1["frozen"], conv1["changed"]) == (9408, 0)  # frozen, and its last step left it alone


def test_an_empty_optimizer_stops_the_script_and_is_reported_with_the_users_traceback() -> None:
    done = run_featlint(["run", f"{FIXTURES}/everything_frozen.py"])
    assert done.returncode == 1
    assert "everything_frozen.py:10:13: FL203" in done.stdout
    assert "the script failed after 0 optimizer steps: ValueError: optimizer got an empty parameter list" in done.stdout
    assert "--- the script's stderr ---" in done.stderr
    traceback = done.stderr.split("--- the script's stderr ---")[1]
    frames = [line for line in traceback.splitlines() if line.strip().startswith('File "')]
    assert frames[0].strip().startswith(f'File "{REPO / FIXTURES / "everything_frozen.py"}"'), traceback
    assert not any("featlint" in line and "fixtures" not in line for line in frames), traceback
    assert "fc      Linear" in done.stdout  # what was built is still reported


def test_weights_in_the_local_hub_cache_are_used(tmp_path) -> None:
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    torch.nn.init.constant_(model.conv1.weight, 0.5)
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    url = torchvision.models.ResNet18_Weights.DEFAULT.url
    torch.save(model.state_dict(), checkpoints / url.rsplit("/", 1)[1])
    done = _run_with_env(["run", f"{FIXTURES}/cached_weights.py"], {"TORCH_HOME": str(tmp_path)})
    assert "the script ended after 0 optimizer steps" in done.stdout, done.stdout + done.stderr
    assert "not in the local cache" not in done.stdout


def test_network_access_fails_fast_with_a_clear_message() -> None:
    started = time.monotonic()
    done = run_featlint(["run", f"{FIXTURES}/network.py"])
    assert time.monotonic() - started < 100  # the script asked for a 600 s timeout
    assert done.returncode == 2
    assert "featlint run blocks network access (tried to reach download.example.org:80)" in done.stderr
    assert "note: the script tried to reach download.example.org:80" in done.stdout


@pytest.mark.slow  # waits 40 s for the timeout
def test_the_timeout_stops_the_script_and_reports_what_it_built() -> None:
    done = run_featlint(["run", "--timeout", "40", f"{FIXTURES}/hangs.py"])  # importing torch can take 15 s
    assert "timed out after 40 s, having watched 0 optimizer steps" in done.stdout, done.stdout + done.stderr
    assert "fc      Linear" in done.stdout
    # What was built is still checked: the backbone trains but the optimizer only holds the head.
    assert "hangs.py:8:13: FL201" in done.stdout and done.returncode == 1


def test_meta_device_builds_regnet_and_checks_optimizer_membership() -> None:
    done = run_featlint(["run", "--device", "meta", "--output-format", "concise", f"{FIXTURES}/meta_regnet.py"])
    assert "meta_regnet.py:8:13: FL201" in done.stdout, done.stdout + done.stderr
    assert "note: meta device: parameter values were not compared" in done.stdout


def test_meta_device_runs_a_real_data_pipeline_with_workers_shuffling_and_a_logged_loss() -> None:
    done = run_featlint(["run", "--device", "meta", "--fake-data", "--steps", "2", f"{FIXTURES}/meta_pipeline.py"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "watched 2 optimizer steps, then stopped the script (--steps 2)" in done.stdout
    assert "values read from meta tensors (`loss.item()`, `.numpy()`) were 0" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_meta_device_falls_back_to_one_cpu_step_where_the_pipeline_needs_values() -> None:
    done = run_featlint(["run", "--device", "meta", "--steps", "3", f"{FIXTURES}/meta_fallback.py"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "watched 1 optimizer step, then stopped the script (one CPU step in place of the meta run)" in done.stdout
    assert f"on the meta device the script failed at {FIXTURES}/meta_fallback.py:8 (NotImplementedError" in done.stdout
    assert "batches of at most 2" in done.stdout and "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("fmt", ["sarif", "github", "full"])
def test_every_output_format_of_check_works_for_run_and_carries_the_run(fmt: str) -> None:
    done = run_featlint(["run", "--output-format", fmt, f"{FIXTURES}/everything_frozen.py"])
    assert done.returncode == 1
    if fmt == "sarif":
        run = json.loads(done.stdout)["runs"][0]
        [result] = run["results"]
        assert result["ruleId"] == "FL203"
        carried = run["properties"]["featlintRun"]
        assert carried["status"] == "failed" and {m["module"] for m in carried["modules"]} >= {"fc", "layer4"}
    elif fmt == "github":
        assert "::notice title=featlint run::fixtures/runtime/everything_frozen.py: the script failed" in done.stdout
        assert "::group::featlint run: what trains" in done.stdout and "fc      Linear" in done.stdout
        assert "::error title=featlint (FL203)" in done.stdout or "FL203" in done.stdout.split("::error")[1]
    else:
        assert "optimizer = torch.optim.SGD(filter(" in done.stdout  # the code frame


def test_check_runtime_confirms_static_findings_by_place_and_adds_runtime_only_ones() -> None:
    done = run_featlint(["check", "--runtime", "--output-format", "json", f"{FIXTURES}/optimizer_before_head.py"])
    found = json.loads(done.stdout)
    fl201 = [d for d in found if d["code"] == "FL201"]
    assert fl201 and all(d["message"].endswith("[confirmed by the run]") for d in fl201)
    assert len(fl201) == 1  # the runtime's own FL201 is folded into the static one it confirms
    # The corrected twin's static FL204 (frozen after the optimizer was built) is not confirmed: the cleared
    # gradients keep the frozen layer still, although the optimizer still holds it.
    done = run_featlint(["check", "--runtime", "--steps", "3", "--output-format", "json",
                         f"{FIXTURES}/frozen_after_optimizer_fixed.py", f"{FIXTURES}/frozen_after_optimizer.py"])
    by_file = {d["filename"].rsplit("/", 1)[1]: d["message"] for d in json.loads(done.stdout) if d["code"] == "FL204"}
    assert by_file["frozen_after_optimizer.py"].endswith("[confirmed by the run]"), by_file
    assert by_file["frozen_after_optimizer_fixed.py"].endswith("[not confirmed by the run]"), by_file


def test_script_arguments_after_the_separator_reach_the_script_in_run_and_check(tmp_path) -> None:
    script = tmp_path / "args.py"
    script.write_text("import sys\nif sys.argv[1:] != ['--lr', '0.5']:\n    raise SystemExit(3)\n")
    done = run_featlint(["run", str(script), "--", "--lr", "0.5"], cwd=REPO)
    assert "the script ended after 0 optimizer steps" in done.stdout, done.stdout
    assert done.returncode == 0
    done = run_featlint(["check", "--runtime", "--steps", "1", "--timeout", "60", str(script), "--", "--lr", "0.1"],
                        cwd=REPO)
    # A failed run reports as `featlint run` does: the headline as an error, exit 2.
    assert "the script failed after 0 optimizer steps: SystemExit: 3" in done.stderr and done.returncode == 2


def test_check_runtime_refuses_a_folder_and_cuda_without_a_device_is_an_error() -> None:
    done = run_featlint(["check", "--runtime", FIXTURES])
    assert done.returncode == 2 and f"{FIXTURES} is a folder: name the scripts to run" in done.stderr
    import torch

    if not torch.cuda.is_available():
        done = run_featlint(["run", "--device", "cuda", f"{FIXTURES}/everything_frozen.py"])
        assert done.returncode == 2 and "--device cuda: this torch" in done.stderr and "sees no CUDA device" in done.stderr


def test_a_missing_data_set_without_fake_data_says_what_to_do() -> None:
    done = run_featlint(["run", f"{FIXTURES}/frozen_batchnorm.py"])
    assert done.returncode == 2
    assert "note: the script failed while loading a torchvision data set: rerun with --fake-data" in done.stdout


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
