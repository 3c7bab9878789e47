"""Score featlint against the hand-labelled real-world corpus (recall and precision per rule).

Why: the fixture tests say what each rule does on code written for it; this corpus says what the
linter does on ordinary public training scripts and notebooks that nobody wrote for featlint. Every
label was set by reading the file against docs/rules.md before featlint ran on it, so a miss is a
real bug featlint does not see, and a finding without a label is a false alarm unless the manifest
records a later judgement saying otherwise.

Nothing is fetched: run `populate.py` first (it copies the files into `files/`). featlint runs once
over every file found; a file that is not there is reported and skipped.

Matching: a finding matches an unmatched label of the same code on the same line (or one of the
label's `alt_lines`); in a notebook, also in the same cell (1-based index into `cells`, markdown and
raw cells included, as ruff numbers them). featlint's JSON gives the cell in a `cell` field when it
reads notebooks (as ruff's does); a row without one is mapped through the code cells concatenated in
order, one line per source line.

Recall leaves out labels whose rule is off by default (FL208, FL501 today) unless `--select` turns
it on; the headline recall also leaves out FL305 (deprecated `pretrained=`), which is everywhere and
easy, so that it does not hide the rules that need analysis.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from populate import load_entries, target_path  # noqa: E402  (a sibling script, not a package)

OFF_BY_DEFAULT_FALLBACK = frozenset({"FL208", "FL501"})
HEADLINE_EXCLUDED = "FL305"


@dataclass
class Finding:
    """One featlint diagnostic, placed in the manifest's coordinates."""

    code: str
    line: int
    cell: int | None
    message: str


@dataclass
class FileResult:
    """Labels and findings of one corpus file after matching."""

    entry: dict[str, Any]
    path: Path
    tp: list[tuple[dict[str, Any], Finding]] = field(default_factory=list)
    fn: list[dict[str, Any]] = field(default_factory=list)
    fp: list[Finding] = field(default_factory=list)


def featlint_command(spec: str | None) -> list[str]:
    """The command prefix that runs featlint: `--featlint` split like a shell would, or this Python."""
    return shlex.split(spec) if spec else [sys.executable, "-m", "featlint"]


def rule_defaults(prefix: list[str]) -> dict[str, bool]:
    """code -> on by default, from `featlint rules`; the known off-by-default set if that fails."""
    result = subprocess.run([*prefix, "rules", "--output-format", "json"],
                            capture_output=True, text=True, check=False)
    try:
        return {rule["code"]: bool(rule["default"]) for rule in json.loads(result.stdout)}
    except (ValueError, KeyError, TypeError):
        return {code: False for code in OFF_BY_DEFAULT_FALLBACK}


def enabled(code: str, select: str | None, defaults: dict[str, bool]) -> bool:
    """Whether a label of `code` counts: default-on rules (and rules featlint does not know yet, which
    rules.md lists as on), or whatever `--select` names by code, prefix or ALL."""
    if select:
        parts = [part.strip() for part in select.split(",") if part.strip()]
        return any(part == "ALL" or code.startswith(part) for part in parts)
    return defaults.get(code, True)


def code_cell_rows(notebook: Path) -> list[tuple[int, int]]:
    """(cell, line) for each row of the notebook's code cells concatenated in order (1-based)."""
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    rows: list[tuple[int, int]] = []
    for index, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = source if isinstance(source, str) else "".join(source)
        rows.extend((index, line) for line in range(1, text.count("\n") + 2))
    return rows


def run_featlint(prefix: list[str], paths: list[Path], select: str | None) -> list[dict[str, Any]]:
    """featlint's JSON diagnostics for `paths`, in one call (its exit status is ignored: findings
    make it non-zero)."""
    if not paths:
        return []
    command = [*prefix, "check", "--no-cache", "--output-format", "json"]
    if select:
        command += ["--select", select]
    result = subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, check=False)
    try:
        return json.loads(result.stdout or "[]")
    except ValueError:
        sys.exit(f"featlint did not print JSON:\n{result.stdout[:2000]}\n{result.stderr[:2000]}")


def to_finding(raw: dict[str, Any], path: Path, is_notebook: bool) -> Finding:
    """A diagnostic in manifest coordinates: (cell, line in cell) for notebooks, line for scripts."""
    row = int((raw.get("location") or {}).get("row") or 0)
    cell = raw.get("cell")
    if is_notebook and cell is None and row > 0:
        rows = code_cell_rows(path)
        if row <= len(rows):
            cell, row = rows[row - 1]
    return Finding(raw.get("code", "?"), row, int(cell) if cell is not None else None,
                   raw.get("message", ""))


def match(result: FileResult, findings: list[Finding], counts_label) -> None:
    """Pair findings with labels one to one (exact line first, then alt_lines); fill tp/fn/fp."""
    open_labels = list(result.entry.get("labels", []))
    notebook = result.entry.get("kind") == "notebook"

    def same_place(label: dict[str, Any], finding: Finding, lines: list[int]) -> bool:
        return (label["code"] == finding.code and finding.line in lines
                and (not notebook or label.get("cell") == finding.cell))

    for exact in (True, False):
        for finding in [f for f in findings if f not in [tp[1] for tp in result.tp]]:
            for label in open_labels:
                lines = [label["line"]] if exact else list(label.get("alt_lines", []))
                if same_place(label, finding, lines):
                    result.tp.append((label, finding))
                    open_labels.remove(label)
                    break
    matched = [tp[1] for tp in result.tp]
    result.fp = [f for f in findings if f not in matched]
    result.fn = [label for label in open_labels if counts_label(label["code"])]


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def summarise(results: list[FileResult], keep=lambda code: True) -> dict[str, Any]:
    """TP/FN/FP, recall and precision over the results, for the codes `keep` accepts."""
    tp = sum(1 for r in results for label, _ in r.tp if keep(label["code"]))
    fn = sum(1 for r in results for label in r.fn if keep(label["code"]))
    fp = sum(1 for r in results for f in r.fp if keep(f.code))
    return {"tp": tp, "fn": fn, "fp": fp, "recall": ratio(tp, tp + fn), "precision": ratio(tp, tp + fp)}


def judgement(entry: dict[str, Any], finding: Finding) -> str | None:
    """The manifest's recorded verdict on a finding that matches no label, if any."""
    for judged in entry.get("judged", []):
        if (judged.get("code") == finding.code and judged.get("line") == finding.line
                and judged.get("cell") in (None, finding.cell)):
            return judged.get("verdict")
    return None


def place(entry: dict[str, Any], line: int, cell: int | None) -> str:
    where = f"{entry['id']} ({entry['path']})"
    return f"{where}:cell {cell}:{line}" if cell is not None else f"{where}:{line}"


def report(results: list[FileResult], missing: list[dict[str, Any]], select: str | None,
           counts_label) -> dict[str, Any]:
    """Everything the text and JSON outputs print."""
    codes = sorted({label["code"] for r in results for label in r.entry.get("labels", [])}
                   | {f.code for r in results for f in r.fp})
    per_code = {code: {**summarise(results, lambda c, code=code: c == code),
                       "labels": sum(1 for r in results for label in r.entry.get("labels", [])
                                     if label["code"] == code),
                       "counted": counts_label(code)}
                for code in codes}
    headline = summarise(results, lambda c: c != HEADLINE_EXCLUDED)
    overall = summarise(results)
    groups: dict[str, dict[str, Any]] = {}
    for key in ("kind", "library"):
        values = sorted({str(r.entry.get(key, "?")) for r in results})
        for value in values:
            subset = [r for r in results if str(r.entry.get(key, "?")) == value]
            groups[f"{key}={value}"] = {
                "files": len(subset),
                "recall_without_FL305": summarise(subset, lambda c: c != HEADLINE_EXCLUDED)["recall"],
                "precision": summarise(subset)["precision"],
                **summarise(subset),
            }
    false_positives = [{"file": r.entry["id"], "path": r.entry["path"], "cell": f.cell, "line": f.line,
                        "code": f.code, "message": f.message, "judged": judgement(r.entry, f)}
                       for r in results for f in r.fp]
    misses = [{"file": r.entry["id"], "path": r.entry["path"], "cell": label.get("cell"),
               "line": label["line"], "code": label["code"], "why": label.get("why", "")}
              for r in results for label in r.fn]
    return {
        "select": select or "default",
        "files_scored": len(results),
        "files_missing": [f"{e['id']}: {e['repo']}:{e['path']}" for e in missing],
        "per_code": per_code,
        "overall_recall_without_FL305": headline["recall"],
        "overall_precision": overall["precision"],
        "overall_precision_without_FL305": headline["precision"],
        "overall": overall,
        "groups": groups,
        "false_positives": false_positives,
        "misses": misses,
    }


def print_text(data: dict[str, Any]) -> None:
    """The human report: tables first, then every false positive and every miss."""
    print(f"featlint on the real-world corpus ({data['files_scored']} files, selection: {data['select']})")
    for line in data["files_missing"]:
        print(f"  missing, skipped: {line}")
    print(f"\n{'code':7} {'labels':>6} {'TP':>4} {'FN':>4} {'FP':>4} {'recall':>7} {'precision':>9}")
    for code, row in data["per_code"].items():
        note = "" if row["counted"] else "  (off by default: labels not counted)"
        print(f"{code:7} {row['labels']:>6} {row['tp']:>4} {row['fn']:>4} {row['fp']:>4} "
              f"{fmt(row['recall']):>7} {fmt(row['precision']):>9}{note}")
    overall = data["overall"]
    print(f"{'all':7} {'':>6} {overall['tp']:>4} {overall['fn']:>4} {overall['fp']:>4} "
          f"{fmt(overall['recall']):>7} {fmt(overall['precision']):>9}")
    print(f"\noverall recall without FL305: {fmt(data['overall_recall_without_FL305'])}")
    print(f"overall precision: {fmt(data['overall_precision'])} "
          f"(without FL305: {fmt(data['overall_precision_without_FL305'])})")
    print(f"\n{'group':28} {'files':>5} {'TP':>4} {'FN':>4} {'FP':>4} {'recall-305':>10} {'precision':>9}")
    for name, row in data["groups"].items():
        print(f"{name:28} {row['files']:>5} {row['tp']:>4} {row['fn']:>4} {row['fp']:>4} "
              f"{fmt(row['recall_without_FL305']):>10} {fmt(row['precision']):>9}")
    print(f"\nfalse positives ({len(data['false_positives'])}):")
    for fp in data["false_positives"]:
        where = f"cell {fp['cell']}:{fp['line']}" if fp["cell"] is not None else str(fp["line"])
        print(f"  {fp['file']} ({fp['path']}):{where} {fp['code']} {fp['message'][:160]}")
        print(f"      judged: {fp['judged'] or '(no judgement recorded)'}")
    print(f"\nmisses ({len(data['misses'])}):")
    for miss in data["misses"]:
        where = f"cell {miss['cell']}:{miss['line']}" if miss["cell"] is not None else str(miss["line"])
        print(f"  {miss['file']} ({miss['path']}):{where} {miss['code']} {miss['why'][:160]}")


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=Path, default=HERE / "files", help="populated corpus folder")
    parser.add_argument("--manifest", type=Path, help="one manifest instead of every manifest*.json")
    parser.add_argument("--featlint", help="command that runs featlint (default: this Python -m featlint)")
    parser.add_argument("--select", help="passed to featlint --select; also turns those rules' labels on")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    prefix = featlint_command(args.featlint)
    defaults = rule_defaults(prefix)
    entries = load_entries(HERE, args.manifest)
    present = [(e, target_path(args.files, e).resolve()) for e in entries]
    missing = [e for e, path in present if not path.is_file()]
    present = [(e, path) for e, path in present if path.is_file()]

    raw = run_featlint(prefix, [path for _, path in present], args.select)
    by_path: dict[Path, list[dict[str, Any]]] = defaultdict(list)
    for diagnostic in raw:
        by_path[Path(diagnostic.get("filename", "")).resolve()].append(diagnostic)

    results: list[FileResult] = []
    for entry, path in present:
        notebook = entry.get("kind") == "notebook"
        findings = [to_finding(d, path, notebook) for d in by_path.get(path, [])]
        result = FileResult(entry, path)
        match(result, findings, lambda code: enabled(code, args.select, defaults))
        results.append(result)

    data = report(results, missing, args.select, lambda code: enabled(code, args.select, defaults))
    if args.json:
        json.dump(data, sys.stdout, indent=1)
        print()
    else:
        print_text(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
