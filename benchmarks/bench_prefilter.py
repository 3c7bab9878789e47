"""The prefilter over the whole torch + torchvision corpus: proof that it changes nothing, and what it saves.

For every file: lint it with every rule and no prefilter, then check that (1) every rule that reported
something there passes its own token test (`Rule.may_fire`), so no selection can lose a finding; (2) a file
Python's parser accepts is not FL001 for libcst either (the prefilter's syntax check); (3) the results with
the prefilter, every rule selected, equal those without. It prints the share of files the prefilter lets
through for the default rules and for all rules, and the time it saves. tests/test_prefilter.py runs the same
comparison on a fixed sample; this is the whole corpus (a few minutes on 2 cores).

Run: .venv/bin/python benchmarks/bench_prefilter.py [--jobs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from bench_corpus import corpus_roots

from featlint.running.engine import check_text
from featlint.running.prefilter import may_fire, python_parses
from featlint.rules import ALL_RULES
from featlint.reading.source import UnreadableSource, read_source

EVERY_RULE = [rule() for rule in ALL_RULES]
DEFAULT_RULES = [rule for rule in EVERY_RULE if rule.default_enabled]


def _outcome(result: object) -> tuple[object, ...]:
    return (result.diagnostics, [str(e) for e in result.errors], result.warnings)


def examine(path: Path) -> tuple[str, list[str], bool, bool, float, float]:
    """(path, problems, passes for the default rules, passes for all rules, seconds without, with)."""
    try:
        text = read_source(path)
    except UnreadableSource:
        return str(path), [], True, True, 0.0, 0.0
    start = time.perf_counter()
    without = check_text(text, str(path), EVERY_RULE, prefilter=False)
    middle = time.perf_counter()
    with_prefilter = check_text(text, str(path), EVERY_RULE, prefilter=True)
    end = time.perf_counter()
    problems = []
    reported = {d.code for d in without.diagnostics} - {"FL001"}
    problems += [f"{code} reported but its token test fails" for code in sorted(reported)
                 if not next(r for r in EVERY_RULE if r.code == code).may_fire(text)]
    if python_parses(text) and any(d.code == "FL001" for d in without.diagnostics):
        problems.append("Python parses it but libcst does not (FL001)")
    if _outcome(with_prefilter) != _outcome(without):
        problems.append("results differ with the prefilter")
    active = EVERY_RULE[1:]
    return (str(path), problems, may_fire(text, DEFAULT_RULES[1:]), may_fire(text, active),
            middle - start, end - middle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    options = parser.parse_args()
    files = sorted(path for root in corpus_roots() for path in root.rglob("*.py"))
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(options.jobs) as pool:
        rows = pool.map(examine, files, chunksize=8)
    failures = [(path, problems) for path, problems, *_ in rows if problems]
    default_pass = sum(row[2] for row in rows)
    all_pass = sum(row[3] for row in rows)
    without = sum(row[4] for row in rows)
    with_prefilter = sum(row[5] for row in rows)
    print(f"{len(files)} files in {time.perf_counter() - started:.0f} s wall ({options.jobs} processes)")
    print(f"parsed with the prefilter: {default_pass} ({default_pass / len(files):.0%}) for the default rules, "
          f"{all_pass} ({all_pass / len(files):.0%}) for all rules")
    print(f"CPU time, every rule selected: {without:.1f} s without the prefilter, {with_prefilter:.1f} s with it")
    for path, problems in failures:
        print(f"MISMATCH {path}: {'; '.join(problems)}")
    print("identical results on every file" if not failures else f"{len(failures)} files differ")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
