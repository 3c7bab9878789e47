"""Piecewise parsing (featlint/reading/piecewise.py) over every large file of the torch + torchvision corpus: proof that
it builds the tree libcst builds for the whole file, and what it saves in peak memory.

For every file of at least `PIECEWISE_FROM` bytes it parses the file whole and piecewise, each in a fresh
child process, and prints the child's peak resident memory and time, how many texts libcst parsed and the
largest of them (pieces, and parts of a large literal), and whether the two trees are equal (`deep_equals`,
and the same printed code). Any difference is listed at the end and makes the script exit 1.

Run: .venv/bin/python benchmarks/bench_piecewise.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench_corpus import corpus_roots

from featlint.reading.piecewise import PIECE_SIZE, PIECEWISE_FROM

# Runs in a child: parse one file one way, report peak memory, time and the texts given to libcst's parser.
_CHILD = """
import json, resource, sys, time
from featlint.startup.deferred import cst
from featlint.reading import piecewise
path, how = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
cst.Name  # libcst's import is not the parse's
parsed = []  # the size of each text libcst's parser is given
for name in ("parse_module", "parse_expression"):
    def spy(source, *args, _real=getattr(cst, name), **kwargs):
        parsed.append(len(source))
        return _real(source, *args, **kwargs)
    setattr(cst, name, spy)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
module = cst.parse_module(text) if how == "whole" else piecewise.parse_module(text)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mib": peak / 1024, "before_mib": before / 1024, "seconds": seconds,
                  "parses": len(parsed), "largest": max(parsed)}))
"""

_COMPARE = """
import sys
from featlint.startup.deferred import cst
from featlint.reading import piecewise
text = open(sys.argv[1], encoding="utf-8").read()
whole, pieces = cst.parse_module(text), piecewise.parse_module(text)
print("same" if whole.deep_equals(pieces) and pieces.code == text else "DIFFERENT")
"""


def _child(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the N largest files")
    options = parser.parse_args()
    files = sorted((path for root in corpus_roots() for path in root.rglob("*.py")
                    if path.stat().st_size >= PIECEWISE_FROM), key=lambda path: -path.stat().st_size)
    if options.limit:
        files = files[: options.limit]
    print(f"{len(files)} files of at least {PIECEWISE_FROM // 1024} KB; pieces of about {PIECE_SIZE // 1024} KB\n")
    print("| file | KB | parses | largest parse KB | whole: peak MiB, s | piecewise: peak MiB, s | same tree |")
    print("|---|---|---|---|---|---|---|")
    different, peaks = [], {"whole": 0.0, "piecewise": 0.0}
    totals = {"whole": 0.0, "piecewise": 0.0}
    for path in files:
        runs = {how: json.loads(_child(_CHILD, str(path), how)) for how in ("whole", "piecewise")}
        same = _child(_COMPARE, str(path))
        if same != "same":
            different.append(path)
        for how, run in runs.items():
            peaks[how] = max(peaks[how], run["peak_mib"])
            totals[how] += run["seconds"]
        whole, pieces = runs["whole"], runs["piecewise"]
        name = "/".join(path.parts[-3:])
        print(f"| {name} | {path.stat().st_size // 1024} | {pieces['parses']} | {pieces['largest'] // 1024} | "
              f"{whole['peak_mib']:.0f}, {whole['seconds']:.2f} | {pieces['peak_mib']:.0f}, {pieces['seconds']:.2f} "
              f"| {same} |", flush=True)
    print(f"\nlargest peak: whole {peaks['whole']:.0f} MiB, piecewise {peaks['piecewise']:.0f} MiB; "
          f"parse time summed: whole {totals['whole']:.1f} s, piecewise {totals['piecewise']:.1f} s")
    if different:
        print("trees differ:", *map(str, different), sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
