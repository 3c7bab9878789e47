"""A single-file run on a project of many modules: what a pre-commit hook pays when it passes one changed
training script whose model is built, frozen and trained in the project's other modules.

Writes a synthetic 30-module project into a temporary directory (a `models/` package re-exporting its
builders, `utils/` helpers importing each other, an `engine.py`, a `train.py` importing from all of them), then
times `featlint check train.py --no-cache` end to end (process start to exit) and the same run told not to
follow imports (the linted text read as standard input), and prints the medians. Target: under 1 s.

Run:  .venv/bin/python benchmarks/bench_project.py [--runs 5] [--modules 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_HELPER = '''"""Helper {index}: freezes or unfreezes part of the model, and calls the next helper."""
import torch.nn as nn

from utils.helper{next} import step{next}


def step{index}(model, depth=0):
    for name, param in model.named_parameters():
        if name.startswith("layer{layer}"):
            param.requires_grad = False
    if depth < 2:
        step{next}(model, depth + 1)
    return nn.Identity()
'''

_TRAIN = '''"""Trains the model the project's modules build and freeze."""
import torch

from engine import train_one_epoch
from models import build_model
{imports}

model = build_model(10)
{calls}
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
for epoch in range(3):
    train_one_epoch(model, [], optimizer)
'''


def write_project(root: Path, modules: int) -> Path:
    helpers = max(1, modules - 5)
    (root / "pyproject.toml").write_text("[project]\nname = 'synthetic'\n")
    (root / "models").mkdir()
    (root / "utils").mkdir()
    (root / "utils" / "__init__.py").write_text("")
    (root / "models" / "__init__.py").write_text("from .backbone import build_model\n")
    (root / "models" / "backbone.py").write_text(
        "import torch.nn as nn\nfrom torchvision import models\n\n\ndef build_model(n):\n"
        "    net = models.resnet18(weights='DEFAULT')\n    net.fc = nn.Linear(512, n)\n    return net\n"
    )
    (root / "engine.py").write_text(
        "def train_one_epoch(model, loader, optimizer):\n    model.train()\n    for x, y in loader:\n"
        "        optimizer.zero_grad()\n        model(x).sum().backward()\n        optimizer.step()\n"
    )
    for index in range(helpers):
        text = _HELPER.format(index=index, next=(index + 1) % helpers, layer=1 + index % 4)
        (root / "utils" / f"helper{index}.py").write_text(text)
    imports = "\n".join(f"from utils.helper{i} import step{i}" for i in range(helpers))
    calls = "\n".join(f"step{i}(model)" for i in range(helpers))
    entry = root / "train.py"
    entry.write_text(_TRAIN.format(imports=imports, calls=calls))
    return entry


def _time(command: list[str], cwd: Path, stdin: bytes | None = None) -> float:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, env=environment, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modules", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        entry = write_project(root, options.modules)
        base = [sys.executable, "-m", "featlint", "check", "--no-cache", "--exit-zero", "--select", "ALL"]
        followed = [_time([*base, "train.py"], root) for _ in range(options.runs)]
        alone = [_time([*base, "-"], root, entry.read_bytes()) for _ in range(options.runs)]
        files = len(list(root.rglob("*.py")))
    print(f"synthetic project: {files} modules; {options.runs} runs each")
    print(f"featlint check train.py (imports followed): median {statistics.median(followed):.3f} s")
    print(f"featlint check - (the same text alone):     median {statistics.median(alone):.3f} s")


if __name__ == "__main__":
    main()
