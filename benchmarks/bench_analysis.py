"""Cost of featlint's analysis next to libcst's parse, on a generated 2,000-line fine-tuning script.

Linting (parse + shared analysis + model story + every default rule) must stay within twice the parse time.
Run: python benchmarks/bench_analysis.py [--runs N] [--lines N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import libcst as cst

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cli import training_script  # noqa: E402  (a sibling script, not a package)

from featlint import lint_source  # noqa: E402
from featlint.analysis import FileAnalysis  # noqa: E402


def median_time(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--lines", type=int, default=2000)
    options = parser.parse_args()
    source = training_script(options.lines)
    lint_source(source)  # warm up: imports, the knowledge data

    # Interleaved, so that load from other processes hits both sides alike; the ratio is the median of the
    # per-run ratios.
    parse_times, story_times, lint_times = [], [], []
    for _ in range(options.runs):
        parse_times.append(median_time(lambda: cst.parse_module(source), 1))
        story_times.append(median_time(lambda: FileAnalysis(cst.parse_module(source)).story, 1))
        lint_times.append(median_time(lambda: lint_source(source), 1))
    parse, story, lint = (statistics.median(t) for t in (parse_times, story_times, lint_times))
    ratio = statistics.median(l / p for l, p in zip(lint_times, parse_times))
    print(f"{options.lines}-line script, median of {options.runs} interleaved runs")
    print(f"  libcst parse:                    {parse * 1000:7.1f} ms")
    print(f"  parse + analysis + story:        {story * 1000:7.1f} ms")
    print(f"  lint_source (all default rules): {lint * 1000:7.1f} ms  ({len(lint_source(source))} findings)")
    print(f"  ratio lint / parse:              {ratio:7.2f}  (target <= 2.0)")

if __name__ == "__main__":
    main()
