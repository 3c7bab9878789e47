"""Latency of the `featlint` command line (process start to exit): a 300-line training script linted from
scratch (`--no-cache`: what an editor or pre-commit sees after every edit) and unchanged (warm cache), and
the start-up of `featlint --version` and `featlint rules`. Throughput on a large corpus, against the peers,
is benchmarks/bench_corpus.py.

Run: python benchmarks/bench_cli.py [--runs N]
Prints the median of N runs for each case. Speed targets live here, never in tests.
"""

from __future__ import annotations

import argparse
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


def time_run(args: list[str], runs: int, cwd: Path | None = None) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([*featlint_command(), *args], capture_output=True, cwd=cwd)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code == 2:
            sys.exit(f"featlint failed:\n{done.stderr.decode()[-2000:]}")
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "train.py"
        script.write_text(training_script(), encoding="utf-8")
        cases = [
            ("featlint --version", ["--version"]),
            ("featlint rules", ["rules"]),
            ("featlint --no-cache train.py (300 lines)", ["--no-cache", str(script)]),
            ("featlint train.py, warm cache", [str(script)]),
        ]
        for name, args in cases:
            median, _ = time_run(args, options.runs, cwd=Path(scratch))
            print(f"{name}: median {median:.3f} s over {options.runs} runs")


if __name__ == "__main__":
    main()
