"""Cost of the runtime checker.

1. `featlint run` on a resnet50 fine-tuning script (frozen backbone, new head, SGD, batch 8 at 224x224)
   against running the same script bare for its first optimizer step: wall time and peak memory, each in a
   fresh process (import, build and one step included in both).
2. `audit(vit_h_14)` on the meta device and on the CPU: wall time of the call (the model is built before)
   and the peak memory of the whole process.

Run: python benchmarks/bench_runtime.py [--runs N] [--skip-cpu-vit]
Prints one line per case. Numbers depend on the machine and its load; no target is asserted here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FINETUNE = textwrap.dedent('''
    import sys

    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet50(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    images, labels = torch.randn(8, 3, 224, 224), torch.randint(0, 10, (8,))
    for step in range(int(sys.argv[1])):
        optimizer.zero_grad()
        criterion(model(images), labels).backward()
        optimizer.step()
''')
# Times a command in a child and reports the peak RSS of its process tree (RUSAGE_CHILDREN covers the
# descendants it waited for, so `featlint run`'s own child is included).
MEASURE = textwrap.dedent('''
    import json, resource, subprocess, sys, time
    started = time.perf_counter()
    done = subprocess.run(json.loads(sys.argv[1]), capture_output=True, text=True)
    print(json.dumps({"seconds": time.perf_counter() - started, "rc": done.returncode,
                      "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "tail": (done.stdout + done.stderr)[-500:]}))
''')
AUDIT_VIT = textwrap.dedent('''
    import json, resource, sys, time
    import torch, torchvision
    from featlint.runtime import audit
    device = sys.argv[1]
    started = time.perf_counter()
    with torch.device(device):
        model = torchvision.models.vit_h_14(weights=None)
    built = time.perf_counter() - started
    optimizer = torch.optim.SGD(model.heads.parameters(), lr=0.01)
    started = time.perf_counter()
    report = audit(model, optimizer, device=device)
    print(json.dumps({"build_s": built, "audit_s": time.perf_counter() - started, "params": len(report.rows),
                      "codes": sorted({d.code for d in report.findings}),
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
''')


def measure(command: list[str]) -> dict:
    # `featlint run --device cpu` hides CUDA from the script; the bare run gets the same environment, or it
    # would pay for CUDA's start-up and the comparison would flatter featlint.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(command)], capture_output=True, text=True,
                          check=True, cwd=REPO, env=env)
    return json.loads(done.stdout)


def median(command: list[str], runs: int) -> dict:
    results = sorted((measure(command) for _ in range(runs)), key=lambda r: r["seconds"])
    return results[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="runs of each resnet50 case; the median is shown")
    parser.add_argument("--skip-cpu-vit", action="store_true", help="skip audit(vit_h_14) on the CPU (~10 GiB)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        script = Path(work) / "finetune_resnet50.py"
        script.write_text(FINETUNE, encoding="utf-8")
        bare = median([sys.executable, str(script), "1"], options.runs)
        watched = median([sys.executable, "-m", "featlint", "run", "--steps", "1", str(script), "--", "100"],
                         options.runs)
    for label, result in (("bare script, 1 step", bare), ("featlint run --steps 1", watched)):
        print(f"resnet50 fine-tuning, {label:<24} {result['seconds']:7.2f} s  peak {result['peak_mib']:7.0f} MiB"
              f"  (exit {result['rc']})")
    print(f"featlint run overhead: {watched['seconds'] - bare['seconds']:+.2f} s "
          f"({watched['seconds'] / bare['seconds']:.2f}x), peak memory {watched['peak_mib'] - bare['peak_mib']:+.0f} MiB")
    for device in ("meta",) if options.skip_cpu_vit else ("meta", "cpu"):
        done = subprocess.run([sys.executable, "-c", AUDIT_VIT, device], capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            print(f"audit(vit_h_14) on {device}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        result = json.loads(done.stdout)
        print(f"audit(vit_h_14) on {device:<4}: build {result['build_s']:6.2f} s, audit {result['audit_s']:7.2f} s, "
              f"process peak {result['peak_mib']:7.0f} MiB, {result['params']} parameters, findings {result['codes']}")


if __name__ == "__main__":
    main()
