"""The lines printed after the findings: the totals, and `--statistics`' count of findings per rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from featlint.diagnostics import Diagnostic, Severity


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def summary_line(
    diagnostics: Sequence[Diagnostic], files_with_findings: int, fixable: int, *, fixed: int = 0, hidden_fixes: int = 0,
    uncovered: int = 0,
    internal_errors: int = 0,
) -> str:
    """`Found 3 problems (2 errors, 1 warning) in 1 file.`, plus the fixable count when there is one.

    After `--fix`, ruff's form: `Found 5 problems (4 fixed, 1 remaining: 1 warning).` `hidden_fixes` are
    unsafe fixes that only `--unsafe-fixes` applies. `uncovered` findings exist only in the fixed code; said
    aloud, since otherwise "fixed + remaining" exceeds the count the user saw before fixing, unexplained.
    After an internal error some checks did not run, so the line says so and never claims that all checks
    passed.
    """
    if internal_errors:
        failed = f"{_count(internal_errors, 'internal error')}: some checks did not run (see the errors above)."
        if not diagnostics and not fixed:
            return f"No problems found, but {failed}"
        first, *rest = summary_line(
            diagnostics, files_with_findings, fixable, fixed=fixed, hidden_fixes=hidden_fixes, uncovered=uncovered
        ).split("\n")
        return "\n".join([f"{first[:-1]}; {failed}", *rest])
    if not diagnostics and not fixed:
        return "All checks passed."
    by_severity = Counter(d.severity for d in diagnostics)
    severities = ", ".join(_count(by_severity[s], s.value) for s in Severity if by_severity[s])
    if fixed:
        remaining = f"{len(diagnostics)} remaining" + (f": {severities}" if diagnostics else "")
        text = f"Found {_count(len(diagnostics) + fixed, 'problem')} ({fixed} fixed, {remaining})."
        if uncovered:
            them = "it" if uncovered == 1 else "them"
            text += f"\n{_count(uncovered, 'new finding')} after fixing: the fixes uncovered {them}."
    else:
        text = (
            f"Found {_count(len(diagnostics), 'problem')} ({severities}) "
            f"in {_count(files_with_findings, 'file')}."
        )
    if fixable:
        text += f"\n[*] {fixable} fixable with the --fix option."
    if hidden_fixes:
        text += f"\n({hidden_fixes} more fixable with --fix --unsafe-fixes: these fixes may change what the code does.)"
    return text


def statistics(diagnostics: Sequence[Diagnostic]) -> str:
    """Ruff's `--statistics` table: count, code, `[*]` when any of them can be fixed, rule name."""
    counts = Counter(d.code for d in diagnostics)
    names = {d.code: d.name for d in diagnostics}
    fixable = {d.code for d in diagnostics if d.fix is not None}
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "\n".join(
        f"{count:>5}\t{code}\t{'[*]' if code in fixable else '[ ]'}\t{names[code]}" for code, count in rows
    )
