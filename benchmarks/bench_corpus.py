"""Throughput on a large real corpus, against the tools users would pick instead.

The corpus is every .py file of the installed torch and torchvision packages (thousands of files nobody here
wrote). Measured, each as the wall time of the whole command (process start to exit) and the peak memory of
its process tree (the sum over the parent and its workers, sampled from /proc every 100 ms; Linux only):

- featlint cold: an empty result cache, default --jobs (the number of CPUs)
- featlint warm: the same command again over the cache the cold run wrote
- featlint --jobs 1: one process, empty cache
- TorchFix (`torchfix PATHS`, its own default of one job per CPU) and `ruff check --select ALL --no-cache`

Runs are interleaved (cold, warm, jobs 1, ruff, TorchFix; then again) so that a change in the machine's load
affects every tool alike; the table gives medians. TorchFix needs 15-20 minutes per run over the whole corpus
on 2 cores, so `--subset-step K` lints every K-th file of the sorted corpus instead (the same files for every
tool); the printed table says which was measured.

Set-up: the peers live in their own environment, because TorchFix pins libcst<1.6 and would downgrade
featlint's:  python3 -m venv .venv-bench && .venv-bench/bin/pip install ".[bench]"
Run:     .venv/bin/python benchmarks/bench_corpus.py [--runs 5] [--subset-step K] [--skip-torchfix] [--as-project]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def corpus_roots() -> list[Path]:
    roots = []
    for package in ("torch", "torchvision"):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            sys.exit(f"{package} is not installed: install featlint's dev extra first")
        roots.append(Path(spec.origin).parent)
    return roots


def _tree_rss_kib(root: int) -> int:
    """Resident memory of `root` and all its descendants (the children lists of /proc, Linux only)."""
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="utf-8") as handle:
                    frontier.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Sample:
    wall: float
    peak_mib: float | None
    returncode: int


def measure(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Sample:
    peak = [0]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    if sys.platform.startswith("linux"):
        sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - start
    done.set()
    text = stderr.decode(errors="replace")
    internal = text.count("internal error in rule")
    if process.returncode not in (0, 1) and not (process.returncode == 2 and internal):
        sys.exit(f"{command[0]} failed ({process.returncode}):\n{text[-3000:]}")
    if internal:  # a rule that crashes on some file: measured anyway, and said
        print(f"note: {internal} internal errors of rules in this run (exit {process.returncode})", flush=True)
    return Sample(wall, peak[0] / 1024 if peak[0] else None, process.returncode)


@dataclass
class Case:
    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak(self) -> str:
        peaks = [s.peak_mib for s in self.samples if s.peak_mib is not None]
        return f"{max(peaks):.0f} MiB" if peaks else "n/a"


def _mib(sample: Sample) -> str:
    return f"({sample.peak_mib:.0f} MiB)" if sample.peak_mib is not None else ""


def _peer(venv: Path, name: str) -> str | None:
    candidate = venv / "bin" / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def _torchfix_turn(run: int, runs: int, wanted: int | None) -> bool:
    """Whether TorchFix is measured in `run`: always, or in `wanted` runs spread over all (0 and 2 of 5)."""
    if wanted is None or wanted >= runs:
        return True
    return run in {round(index * runs / wanted) for index in range(wanted)}


def _all_but_python(directory: str, names: list[str]) -> list[str]:
    """copytree's filter: keep the folders and the .py files (the corpus), leave the libraries and headers."""
    return [name for name in names if not name.endswith(".py") and not os.path.isdir(os.path.join(directory, name))
            or name == "__pycache__"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subset-step", type=int, default=1, help="lint every K-th file (1: the whole corpus)")
    parser.add_argument("--peers-venv", type=Path, default=REPO / ".venv-bench")
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--torchfix-runs", type=int, default=None,
                        help="measure TorchFix (18 minutes a run here) in only the first N runs, spread out")
    parser.add_argument("--skip-ruff", action="store_true")
    parser.add_argument("--as-project", action="store_true",
                        help="lint a copy of the corpus outside site-packages, where featlint follows imports into "
                             "the project's own modules (installed packages are library code: never followed)")
    options = parser.parse_args()

    roots = corpus_roots()
    scratch = Path(tempfile.mkdtemp(prefix="featlint-bench-"))
    if options.as_project:
        copies = scratch / "project"
        for root in roots:
            shutil.copytree(root, copies / root.name, ignore=_all_but_python)
        (copies / "pyproject.toml").write_text("[project]\nname = 'corpus'\n")
        roots = [copies / root.name for root in roots]
    files = sorted(path for root in roots for path in root.rglob("*.py"))
    targets = [str(root) for root in roots] if options.subset_step == 1 else [str(p) for p in files[:: options.subset_step]]
    count = len(files[:: options.subset_step])
    lines = sum(p.read_bytes().count(b"\n") for p in files[:: options.subset_step])
    featlint = [sys.executable, "-m", "featlint", "--exit-zero", "--output-format", "concise"]
    cache_dir = scratch / "cache"
    env = {**os.environ, "FEATLINT_CACHE_DIR": str(cache_dir)}

    cases = {name: Case(name) for name in ("featlint cold", "featlint warm", "featlint --jobs 1")}
    peers: list[tuple[str, list[str]]] = []
    ruff = None if options.skip_ruff else _peer(options.peers_venv, "ruff")
    torchfix = None if options.skip_torchfix else _peer(options.peers_venv, "torchfix")
    if ruff:
        peers.append(("ruff --select ALL --no-cache", [ruff, "check", "--isolated", "--select", "ALL", "--no-cache",
                                                     "--exit-zero", *targets]))
    if torchfix:
        peers.append(("TorchFix", [torchfix, *targets]))
    for name, _ in peers:
        cases[name] = Case(name)
    print(f"corpus: {count} files, {lines:,} lines ({'every %d-th file' % options.subset_step if options.subset_step > 1 else 'all files'})"
          f" of {', '.join(str(r) for r in roots)}; {os.cpu_count()} CPUs; load average at start "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    try:
        for run in range(options.runs):
            measured: list[Case] = []

            def take(name: str, command: list[str], environment: dict[str, str] | None = None,
                     measured: list[Case] = measured) -> None:
                cases[name].samples.append(measure(command, environment, scratch))
                measured.append(cases[name])

            shutil.rmtree(cache_dir, ignore_errors=True)
            take("featlint cold", [*featlint, *targets], env)
            take("featlint warm", [*featlint, *targets], env)
            shutil.rmtree(cache_dir, ignore_errors=True)
            take("featlint --jobs 1", [*featlint, "--jobs", "1", *targets], env)
            for name, command in peers:
                if name != "TorchFix" or _torchfix_turn(run, options.runs, options.torchfix_runs):
                    take(name, command)
            print(f"run {run + 1}: " + ", ".join(f"{c.name} {c.samples[-1].wall:.2f} s {_mib(c.samples[-1])}"
                                                 for c in measured),
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    cold = cases["featlint cold"].median
    print("\n| command | median wall (s) | runs (s) | files/s | peak memory | wall / featlint cold's |")
    print("|---|---|---|---|---|---|")
    for case in cases.values():
        runs = ", ".join(f"{s.wall:.2f}" for s in case.samples)
        print(f"| {case.name} | {case.median:.2f} | {runs} | {count / case.median:.1f} | {case.peak} | "
              f"{case.median / cold:.3g} |")
    print(f"\nwarm cache: {cold / cases['featlint warm'].median:.1f}x faster than cold")
    for name, _ in peers:
        print(f"featlint cold vs {name}: {cases[name].median / cold:.2f}x the speed")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
