"""Wall time of the `featlint` command line: one 300-line training script, and every .py file of the
installed torch package (thousands of files nobody here wrote).

Run: python benchmarks/bench_cli.py [--runs N] [--skip-corpus]
Prints the median of N runs (process start to exit) for each case. Speed targets live here, never in tests.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def time_run(args: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([*featlint_command(), *args], capture_output=True)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code == 2:
            sys.exit(f"featlint failed:\n{done.stderr.decode()[-2000:]}")
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-corpus", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "train.py"
        script.write_text(training_script(), encoding="utf-8")
        median, _ = time_run([str(script)], options.runs)
        print(f"single 300-line script: median {median:.3f} s over {options.runs} runs")
    if options.skip_corpus:
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        print("torch is not installed: corpus benchmark skipped")
        return
    corpus = Path(spec.origin).parent
    files = sum(1 for _ in corpus.rglob("*.py"))
    runs = max(1, options.runs // 5)
    median, _ = time_run(["--exit-zero", str(corpus)], runs)
    print(f"torch package ({files} .py files): median {median:.1f} s over {runs} run(s), {files / median:.0f} files/s")


if __name__ == "__main__":
    main()
