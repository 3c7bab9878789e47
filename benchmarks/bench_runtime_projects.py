"""`featlint run --fake-data` on five real public fine-tuning projects, on the CPU and on meta, against running
the same steps bare.

The projects are not in this repository (third-party code is never committed): put each at the commit below
under `--projects` (default `bench-projects/`, ignored by git), e.g. `git clone https://github.com/REPO
bench-projects/NAME && git -C bench-projects/NAME checkout COMMIT`, or pass `--mirrors DIR` where
`DIR/OWNER+NAME/repo` are bare clones and the script extracts them with `git archive`.

For each project:
* bare: the script itself (`python SCRIPT ARGS`) on a tiny ImageFolder made here (`STEPS` batches of
  `BATCH` random images for one epoch, plus a small validation split), in a scratch copy of the project, so
  one epoch is the same `STEPS` optimizer steps featlint watches (the bare run also validates and saves);
* cpu / meta: `featlint run --fake-data --steps STEPS [--device meta] SCRIPT -- ARGS` with the data folder
  absent, in the project itself (featlint keeps the script's writes out of it).
All load "pretrained" weights from a torch hub cache of random weights made here (nothing is downloaded). It prints wall times, the run's status and steps, the modules and findings it reported. Keep runs few on a
shared machine: `--only NAME` runs one project.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = 3
BATCH = 4


@dataclasses.dataclass(frozen=True)
class Project:
    name: str
    repo: str
    commit: str
    script: str  # relative to the project's root; it runs from there
    args: tuple[str, ...]  # `{data}` is the data folder (train/ and val/ ImageFolders below it)
    what: str
    pythonpath: tuple[str, ...] = ()  # extra folders the project's own dependencies need (see --extra-path)
    folder: str = ""  # where it is under --projects, when several projects share one repository


PROJECTS = (
    Project("pytorch-examples", "pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8", "imagenet/main.py",
            ("-a", "resnet18", "--epochs", "1", "-b", str(BATCH), "-j", "2", "-p", "1", "{data}"),
            "argparse, ImageFolder, shuffling DataLoader with workers, torchvision resnet18"),
    Project("pytorch-image-models", "huggingface/pytorch-image-models", "aa4b5850c1543fa488abf260f18390eda46cf85d",
            "train.py",
            ("--data-dir", "{data}", "--dataset", "torch/folder", "--train-split", "train", "--val-split", "val",
             "--model", "resnet18", "--num-classes", "2", "-b", str(BATCH), "-j", "2", "--epochs", "1",
             "--input-size", "3", "64", "64", "--log-interval", "1", "--device", "cpu", "--no-prefetcher"),
            "timm's own train.py with a timm resnet18 on torchvision's ImageFolder, workers, argparse"),
    Project("image_classification_pytorch", "yjh0410/image_classification_pytorch",
            "9ed47272c4b8581da21a4527cf750c4072aefaab", "train.py",
            ("--data_path", "{data}", "-m", "darknet19", "--batch_size", str(BATCH), "--num_workers", "2",
             "--max_epoch", "1", "--wp_epoch", "0", "--num_classes", "2"),
            "argparse, ImageFolder, DataLoader with workers, the project's own darknet19", ("thop",)),
    Project("Project-Face-ID", "dynamo0003/Project-Face-ID", "0c676a224be75958f56b2a5491c3e7b6b104de6d", "src/cli.py",
            ("train", "-m", "models/user.pt", "-d", "{data}/train", "-e", "1", "-b", str(BATCH), "--cpu"),
            "a click CLI, ImageFolder, shuffling DataLoader, torchvision resnet50 with ImageNet weights, torch.save"),
    Project("fast-neural-style", "pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8",
            "fast_neural_style/neural_style/neural_style.py",
            ("train", "--dataset", "{data}/train", "--style-image", "fast_neural_style/images/style-images/mosaic.jpg",
             "--save-model-dir", "saved-models", "--epochs", "1", "--batch-size", str(BATCH), "--image-size", "64",
             "--log-interval", "1"),
            "argparse subcommands, ImageFolder, a frozen pretrained torchvision VGG16 as the loss network, torch.save",
            folder="pytorch-examples"),
)


def prepare(project: Project, root: Path, mirrors: Path | None) -> Path | None:
    target = root / (project.folder or project.name)
    if (target / project.script).is_file():
        return target
    mirror = mirrors / project.repo.replace("/", "+") / "repo" if mirrors else None
    if mirror is None or not mirror.is_dir():
        print(f"{project.name}: not found at {target}; clone https://github.com/{project.repo} there and check out "
              f"{project.commit}", file=sys.stderr)
        return None
    target.mkdir(parents=True, exist_ok=True)
    top = Path(project.script).parts[0] if len(Path(project.script).parts) > 1 else "."
    archive = subprocess.run(["git", "-C", str(mirror), "archive", project.commit, top], capture_output=True,
                             check=False)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=False)
    return target


def tiny_image_folder(where: Path) -> Path:
    """STEPS batches of random images in two classes for training, one batch for validation."""
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(0)
    for split, count in (("train", STEPS * BATCH), ("val", BATCH)):
        for index in range(count):
            folder = where / split / f"class_{index % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (72, 72, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return where


def hub_with_random_weights(where: Path) -> Path:
    """A torch hub cache holding random weights under the file names of the pretrained ones the projects ask
    for, so that the bare runs (which cannot download here) load "pretrained" weights, and featlint's runs load
    the same files."""
    import torch
    import torchvision

    checkpoints = where / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    for builder, weights in ((torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V1),
                             (torchvision.models.vgg16, torchvision.models.VGG16_Weights.IMAGENET1K_V1)):
        torch.save(builder(weights=None).state_dict(), checkpoints / weights.url.rsplit("/", 1)[1])
    return where


def timed(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=Path, default=REPO / "bench-projects")
    parser.add_argument("--mirrors", type=Path, help="a folder of bare clones, OWNER+NAME/repo")
    parser.add_argument("--only", action="append", help="run only these projects (by name)")
    parser.add_argument("--extra-path", action="append", default=[],
                        help="NAME=FOLDER: a folder with a project's extra dependency (e.g. thop=/tmp/extra)")
    parser.add_argument("--modes", default="bare,cpu,meta")
    parser.add_argument("--timeout", type=float, default=900)
    options = parser.parse_args()
    extra = dict(item.split("=", 1) for item in options.extra_path)
    rows = []
    with tempfile.TemporaryDirectory(prefix="featlint-bench-") as scratch:
        data = tiny_image_folder(Path(scratch) / "data")
        hub = hub_with_random_weights(Path(scratch) / "torch-home")
        for project in PROJECTS:
            if options.only and project.name not in options.only:
                continue
            root = prepare(project, options.projects, options.mirrors)
            if root is None:
                continue
            env = {**os.environ, "TORCH_HOME": str(hub), "PYTHONPATH": os.pathsep.join(
                [str(REPO), *(extra[p] for p in project.pythonpath if p in extra)])}
            for mode in options.modes.split(","):
                if mode == "bare":
                    copy = Path(scratch) / f"bare-{project.name}"
                    shutil.copytree(root, copy, dirs_exist_ok=True)
                    args = [a.replace("{data}", str(data)) for a in project.args]
                    seconds, done = timed([sys.executable, project.script, *args], copy, env, options.timeout)
                    rows.append((project.name, mode, seconds, f"exit {done.returncode}", "", ""))
                    if done.returncode:
                        print(f"--- {project.name} bare failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                    continue
                args = [a.replace("{data}", str(Path(scratch) / "absent")) for a in project.args]
                device = ["--device", "meta"] if mode == "meta" else []
                command = [sys.executable, "-m", "featlint", "run", "--fake-data", "--steps", str(STEPS), *device,
                           "--timeout", str(options.timeout), "--output-format", "json", project.script, "--", *args]
                seconds, done = timed(command, root, env, options.timeout + 60)
                try:
                    report = json.loads(done.stdout)
                except ValueError:
                    rows.append((project.name, mode, seconds, f"no report (exit {done.returncode})", "", ""))
                    print(done.stderr[-2000:], file=sys.stderr)
                    continue
                findings = ",".join(sorted({f["code"] for f in report["findings"]})) or "-"
                rows.append((project.name, mode, seconds, f"{report['status']}, {report['steps']} steps",
                             str(len(report["modules"])), findings))
                for note in report["notes"]:
                    print(f"  {project.name} {mode}: note: {note[:200]}")
    print(f"\n{'project':<30} {'mode':<5} {'seconds':>8}  {'outcome':<24} {'modules':>7}  findings")
    for name, mode, seconds, outcome, modules, findings in rows:
        print(f"{name:<30} {mode:<5} {seconds:8.1f}  {outcome:<24} {modules:>7}  {findings}")


if __name__ == "__main__":
    main()
