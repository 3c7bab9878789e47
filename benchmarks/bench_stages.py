"""Where featlint's time goes over the torch + torchvision corpus: each stage of linting a file, summed.

One process, default rules, no cache, every `--step`-th file of the sorted corpus (1: all of it). Stages:
reading and decoding; the prefilter (the rules' token tests, and Python's own parser for a file it skips);
libcst's parse; the shared facts (scopes, names, values); the model story, the architecture knowledge and
the input transforms, each built on first use by the rules that need them; the rules' own queries (with the
line and column of what they report). The stages are forced in that order, so that each is timed on its
own. Prints seconds and shares per stage, and the five slowest rules.

Run: .venv/bin/python benchmarks/bench_stages.py [--step K]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

from bench_corpus import corpus_roots

from featlint.analysis import FileAnalysis
from featlint.context import FileContext
from featlint.running.engine import _parse
from featlint.running.prefilter import may_fire, python_parses
from featlint.rules import ALL_RULES
from featlint.reading.source import UnreadableSource, read_source

RULES = [rule() for rule in ALL_RULES if rule.default_enabled and rule.code != "FL001"]


def lint_in_stages(path: Path, seconds: collections.Counter[str]) -> bool:
    """Adds each stage's time for `path` to `seconds`; False when the prefilter skipped the file."""
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] += now - clock
        clock = now

    try:
        text = read_source(path)
    except UnreadableSource:
        return False
    lap("read and decode")
    active = [rule for rule in RULES if rule.may_fire(text)]
    if not may_fire(text, RULES):
        python_parses(text)
        lap("prefilter")
        return False
    lap("prefilter")
    try:
        module = _parse(text)
    except UnreadableSource:
        lap("parse (libcst)")
        return True
    lap("parse (libcst)")
    analysis = FileAnalysis(module)
    lap("facts: scopes, names, values")
    context = FileContext(str(path), text, module, analysis)
    _ = analysis.story
    lap("model story")
    _ = analysis.architectures
    lap("architectures")
    _ = analysis.inputs
    lap("inputs")
    for rule in active:
        list(rule.check(context))
        lap(f"rule {rule.code}")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", type=int, default=1, help="every K-th file of the sorted corpus")
    options = parser.parse_args()
    files = sorted(path for root in corpus_roots() for path in root.rglob("*.py"))[:: options.step]
    seconds: collections.Counter[str] = collections.Counter()
    sys.setrecursionlimit(20_000)  # what the engine's deep_recursion() allows for deeply nested files
    parsed = sum(lint_in_stages(path, seconds) for path in files)
    total = sum(seconds.values())
    rules = sum(value for stage, value in seconds.items() if stage.startswith("rule "))
    print(f"{len(files)} files, {parsed} parsed (the prefilter skipped {len(files) - parsed}); {total:.1f} s in all")
    print("\n| stage | seconds | share |\n|---|---|---|")
    for stage, value in seconds.most_common():
        if not stage.startswith("rule "):
            print(f"| {stage} | {value:.2f} | {value / total:.1%} |")
    print(f"| all rules' own queries | {rules:.2f} | {rules / total:.1%} |")
    slowest = [(stage[5:], value) for stage, value in seconds.most_common() if stage.startswith("rule ")][:5]
    print("\nslowest rules: " + ", ".join(f"{code} {value * 1000:.0f} ms" for code, value in slowest))


if __name__ == "__main__":
    main()
