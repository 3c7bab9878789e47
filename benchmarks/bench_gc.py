"""What featlint's garbage-collector thresholds (featlint/startup/collector.py) save, on any interpreter.

Lints every K-th file of torch and torchvision in one process (`--jobs 1`, so that CPU time is the lint's
own), twice per mode and alternating: with Python's default thresholds (`featlint.cli.main`, which leaves
them alone) and as the `featlint` command runs (`python -m featlint`, which raises them). Both modes lint
the files where they are installed (imports of library code are never followed) and a copy outside
site-packages with a pyproject.toml (a project: imports are followed into its modules, which are kept parsed).

Run:  .venv/bin/python benchmarks/bench_gc.py [--step 4] [--rounds 2] [--python OTHER_PYTHON]
The other interpreter needs featlint importable (e.g. `pip install -e .` in its venv) and torch is found with
this one: only the corpus' files are needed, never torch itself.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_corpus import _all_but_python, corpus_roots  # noqa: E402

MODES = {
    "default thresholds": ["-c", "import sys; from featlint.cli import main; main(sys.argv[1:])"],
    "featlint's thresholds": ["-m", "featlint"],
}


def run(python: str, mode: str, files: list[str], cache: Path) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one lint."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [python, *MODES[mode], "--no-cache", "--exit-zero", "--jobs", "1", "--output-format", "concise", *files]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "FEATLINT_CACHE_DIR": str(cache)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=4, help="lint every K-th file")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs featlint")
    options = parser.parse_args()

    roots = corpus_roots()
    scratch = Path(tempfile.mkdtemp(prefix="featlint-bench-gc-"))
    project = scratch / "project"
    for root in roots:
        shutil.copytree(root, project / root.name, ignore=_all_but_python)
    (project / "pyproject.toml").write_text("[project]\nname = 'corpus'\n")
    installed = sorted(str(p) for root in roots for p in root.rglob("*.py"))[:: options.step]
    copied = sorted(str(p) for root in roots for p in (project / root.name).rglob("*.py"))[:: options.step]
    version = subprocess.run([options.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"Python {version}; {len(installed)} files (every {options.step}-th of torch and torchvision); "
          f"--jobs 1; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    cpu: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(options.rounds):
            for where, files in (("installed", installed), ("as a project", copied)):
                for mode in MODES:
                    seconds, wall = run(options.python, mode, files, scratch / "cache")
                    cpu.setdefault((where, mode), []).append(seconds)
                    print(f"  {where:12}  {mode:22}  cpu {seconds:6.1f} s  wall {wall:6.1f} s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\nmedian CPU seconds:")
    for where in ("installed", "as a project"):
        default = statistics.median(cpu[(where, "default thresholds")])
        tuned = statistics.median(cpu[(where, "featlint's thresholds")])
        print(f"  {where:12}  default {default:6.1f}  featlint's {tuned:6.1f}  saved {1 - tuned / default:5.1%}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
