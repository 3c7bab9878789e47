"""False-alarm audit: lint the installed torch, torchvision and timm source trees with every rule (ALL) and
report internal errors and findings per rule, so each finding can be reviewed by a person.

Library code is not a training script: it should produce almost no findings, and each one that remains is
either a true finding or a false positive to fix in its rule. Nothing here imports the corpora (their
directories are found with importlib's spec lookup), so no weights are ever downloaded.

Run: python benchmarks/audit_corpus.py [--jobs N] [--findings FILE] [--corpus torch --corpus timm ...]
Prints files, seconds, internal errors and findings per code for each corpus; writes every finding (with its
source line) to FILE as JSON lines for the review. Exits 1 when any internal error occurred.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import sys
import time
from pathlib import Path

from featlint.config import Overrides, SettingsResolver
from featlint.running.session import RunResult, run

CORPORA = ("torch", "torchvision", "timm")


def package_directory(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def lint_corpus(directory: Path, jobs: int) -> RunResult:
    # exclude=() so that nothing under the package (e.g. a `build` or `dist` folder) is skipped.
    resolver = SettingsResolver(Overrides(select=("ALL",), exclude=()), cwd=directory.parent)
    return run([directory], resolver, jobs=jobs, cache=None)


def source_line(result: RunResult, path: str, row: int) -> str:
    for file in result.files:
        if file.path == path and file.source is not None:
            lines = file.source.splitlines()
            return lines[row - 1].strip() if 0 < row <= len(lines) else ""
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--corpus", action="append", choices=CORPORA, help="default: all three")
    parser.add_argument("--findings", type=Path, default=Path("audit_findings.jsonl"),
                        help="where to write every finding (JSON lines)")
    args = parser.parse_args()
    total_errors = 0
    total_findings = collections.Counter[str]()
    with args.findings.open("w", encoding="utf-8") as out:
        for name in args.corpus or CORPORA:
            directory = package_directory(name)
            if directory is None:
                print(f"{name}: not installed, skipped")
                continue
            start = time.perf_counter()
            result = lint_corpus(directory, args.jobs)
            seconds = time.perf_counter() - start
            per_code = collections.Counter(d.code for d in result.diagnostics)
            total_findings.update(per_code)
            total_errors += len(result.errors)
            codes = ", ".join(f"{code} {count}" for code, count in sorted(per_code.items())) or "none"
            print(f"{name}: {len(result.files)} files in {seconds:.1f} s; internal errors {len(result.errors)}; "
                  f"findings {sum(per_code.values())} ({codes})")
            for error in result.errors:
                print(f"  error: {error}")
            for d in result.diagnostics:
                record = {"corpus": name, "path": str(directory.parent / d.path), "row": d.start.row,
                          "column": d.start.column, "code": d.code, "message": d.message,
                          "line": source_line(result, d.path, d.start.row)}
                out.write(json.dumps(record) + "\n")
    codes = ", ".join(f"{code} {count}" for code, count in sorted(total_findings.items())) or "none"
    print(f"total: internal errors {total_errors}; findings {sum(total_findings.values())} ({codes})")
    print(f"findings written to {args.findings}")
    sys.exit(1 if total_errors else 0)


if __name__ == "__main__":
    main()
