"""Latency of the `featlint` command line (process start to exit): a 300-line training script linted from
scratch (`--no-cache`: what an editor or pre-commit sees after every edit) and unchanged (warm cache), and
the start-up of `featlint --version` and `featlint rules`. The first run after installing featlint (no
compiled dataclass methods in the user cache yet, featlint/startup/dataclass_code.py) is timed apart. Throughput on a
large corpus, against the peers, is benchmarks/bench_corpus.py.

Run: python benchmarks/bench_cli.py [--runs N]
Prints the median of N runs for each case. Speed targets live here, never in tests.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT_HEADER = '''"""A generated 300-line fine-tuning script for benchmarks."""
import argparse

import torch
import torch.nn as nn
import torchvision.models as models

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()
'''
SCRIPT_BLOCK = '''

def stage_{i}(loader, epochs=1):
    model = models.resnet50(weights="DEFAULT")
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
    return model
'''


def training_script(lines: int = 300) -> str:
    text, i = SCRIPT_HEADER, 0
    while text.count("\n") < lines:
        text += SCRIPT_BLOCK.format(i=i)
        i += 1
    return "\n".join(text.splitlines()[:lines]) + "\n"


def featlint_command() -> list[str]:
    found = shutil.which("featlint")
    return [found] if found else [sys.executable, "-m", "featlint"]


def time_run(args: list[str], runs: int, cwd: Path, first_after_install: bool = False) -> tuple[list[float], int]:
    """`first_after_install`: each run gets an empty user cache, so libcst's dataclass methods are compiled
    again (featlint/startup/dataclass_code.py), as in the first run after installing featlint or Python."""
    times, code = [], 0
    for run in range(runs):
        env = dict(os.environ)
        if first_after_install:
            env["XDG_CACHE_HOME"] = str(cwd / f"user-cache-{run}")
        start = time.perf_counter()
        done = subprocess.run([*featlint_command(), *args], capture_output=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code == 2:
            sys.exit(f"featlint failed:\n{done.stderr.decode()[-2000:]}")
    return times, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    # Bytecode for every featlint module, as `pip install` writes it: an editable install under
    # PYTHONDONTWRITEBYTECODE (set on our CI machines) would otherwise compile each edited module at every start.
    compileall.compile_dir(str(REPO / "featlint"), quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "train.py"
        script.write_text(training_script(), encoding="utf-8")
        cases = [
            ("featlint --version", ["--version"], False),
            ("featlint rules", ["rules"], False),
            ("featlint --no-cache train.py (300 lines)", ["--no-cache", str(script)], False),
            ("featlint --no-cache train.py, first run after installing", ["--no-cache", str(script)], True),
            ("featlint train.py, warm result cache", [str(script)], False),
        ]
        time_run(["--no-cache", str(script)], 1, cwd=Path(scratch))  # fills the user cache the first case needs
        for name, args, first in cases:
            times, _ = time_run(args, options.runs, cwd=Path(scratch), first_after_install=first)
            runs = ", ".join(f"{t:.3f}" for t in times)
            print(f"{name}: median {statistics.median(times):.3f} s over {options.runs} runs ({runs})")


if __name__ == "__main__":
    main()
