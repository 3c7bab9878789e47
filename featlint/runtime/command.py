"""The command-line side of the runtime checker: `featlint run` and `featlint check --runtime`.

cli.py declares the options and calls these; nothing here imports torch (the script runs in a child).
Runtime findings go through the same selection, configuration, per-file-ignores and `# noqa` comments as
static ones (the settings of the file each finding points at).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from featlint.config import SettingsResolver
from featlint.diagnostics import Diagnostic
from featlint.runtime.report import Report
from featlint.runtime.runner import RunOutcome

OUTPUT_TAIL = 40  # lines of the script's output shown when it fails


@dataclasses.dataclass(frozen=True)
class RunOptions:
    steps: int
    timeout: float
    device: str
    fake_data: bool
    python: str | None = None  # None: $VIRTUAL_ENV's interpreter, else featlint's own


def _display(path: str) -> str:
    from featlint.running.session import display_path

    return display_path(Path(path), Path.cwd().absolute()) if os.path.isabs(path) else path


def _headline(outcome: RunOutcome, options: RunOptions) -> str:
    name = _display(os.path.abspath(outcome.script))
    steps = f"{outcome.steps} optimizer step{'s' if outcome.steps != 1 else ''}"
    limit = "one CPU step in place of the meta run" if outcome.fallback else f"--steps {options.steps}"
    return {
        "stopped": f"{name}: watched {steps}, then stopped the script ({limit})",
        "finished": f"{name}: the script ended after {steps}",
        "failed": f"{name}: the script failed after {steps}: {outcome.error}",
        "timed-out": f"{name}: timed out after {options.timeout:g} s, having watched {steps}",
        "crashed": f"{name}: the run ended without a report (exit status {outcome.returncode})",
    }[outcome.status]


def _output_tail(outcome: RunOutcome) -> str:
    parts = []
    for label, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        lines = text.rstrip().splitlines()
        if lines:
            shown = lines[-OUTPUT_TAIL:]
            cut = f" (last {len(shown)} of {len(lines)} lines)" if len(shown) < len(lines) else ""
            parts.append(f"--- the script's {label}{cut} ---\n" + "\n".join(shown))
    return "\n".join(parts)


def _failed_on_meta(outcome: RunOutcome) -> bool:
    """The meta device, not the script, stopped the run before its first step (data read back as values)."""
    return outcome.status == "failed" and outcome.steps == 0 and "meta" in (outcome.error or "").lower()


def execute(script: Path, args: Sequence[str], options: RunOptions) -> RunOutcome:
    """Run the script (a notebook's code cells as one script); on the meta device, a run the data pipeline
    cannot do becomes one CPU step with batches of two (the report says why). Errors the user must fix first
    are click usage errors."""
    from featlint.runtime.runner import InterpreterError

    if not script.is_file():
        raise click.UsageError(f"{script}: no such script")
    try:
        outcome = _execute_notebook(script, args, options) if script.suffix == ".ipynb" else _run(script, args, options)
    except InterpreterError as error:
        raise click.UsageError(str(error)) from None
    if outcome.status == "refused":
        raise click.UsageError(outcome.error or "the run was refused")
    return outcome


def _run(script: Path, args: Sequence[str], options: RunOptions) -> RunOutcome:
    from featlint.runtime.runner import run_script

    outcome = run_script(script, args, steps=options.steps, timeout=options.timeout, device=options.device,
                         fake_data=options.fake_data, python=options.python)
    if options.device == "meta" and _failed_on_meta(outcome):
        where = f" at {_display(outcome.error_site)}" if outcome.error_site else ""
        error = (outcome.error or "").splitlines()[0] if outcome.error else ""
        error = error if len(error) <= 160 else error[:157] + "..."
        fallback = run_script(script, args, steps=1, timeout=options.timeout, device="cpu",
                              fake_data=options.fake_data, python=options.python, tiny_batches=True)
        fallback.fallback = (f"on the meta device the script failed{where} ({error}): the data pipeline "
                             "needs real values, so featlint ran one optimizer step on the CPU instead, with "
                             "batches of at most 2 loaded in the script's process")
        if fallback.report is not None:
            fallback.report.notes.insert(0, fallback.fallback)
        outcome = fallback
    return outcome


def selected(report: Report, resolver: SettingsResolver) -> Report:
    """The report without the findings the settings of their file leave out or a `# noqa` suppresses."""
    from featlint.rules import RULES_BY_CODE
    from featlint.suppression import Suppressions, parse_suppressions

    suppressions: dict[str, Suppressions] = {}

    def keep(finding: Diagnostic) -> bool:
        path = Path(finding.path)
        if finding.code not in resolver.for_file(path).codes_for(path):
            return False
        if finding.path not in suppressions:
            try:
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                source = ""
            suppressions[finding.path] = parse_suppressions(source, RULES_BY_CODE)
        return not suppressions[finding.path].suppresses(finding)

    return report.keeping(keep)


def _report(outcome: RunOutcome, resolver: SettingsResolver) -> Report | None:
    if outcome.report is None:
        return None
    return selected(outcome.report, resolver).with_paths(_display)


def _execute_notebook(path: Path, args: Sequence[str], options: RunOptions) -> RunOutcome:
    """The notebook's code cells in order, as one script, under the same harness; findings name cells."""
    from featlint.reading.source import UnreadableSource
    from featlint.runtime.notebook_script import as_script, into_notebook, not_run

    try:
        with as_script(path) as (script, notebook):
            note = not_run(notebook)
            if note is not None:
                click.echo(f"note: {note}", err=True)
            outcome = _run(script, args, options)
    except (UnreadableSource, OSError) as error:
        raise click.UsageError(f"{path}: {getattr(error, 'message', None) or error}") from None
    report = outcome.report
    if report is not None:
        report = dataclasses.replace(report, findings=into_notebook(report.findings, script, path, notebook))
    return dataclasses.replace(outcome, script=str(path), report=report)


def run_command(
    script: Path, args: Sequence[str], options: RunOptions, resolver: SettingsResolver, output_format: str,
    show_params: bool, exit_zero: bool,
) -> int:
    """`featlint run`: print the report in the chosen format and return the exit status."""
    from featlint.outputs import Report as Rendered
    from featlint.outputs import render
    from featlint.outputs.summary import summary_line
    from featlint.rules import ALL_RULES
    from featlint.runtime import document
    from featlint.version import __version__

    outcome = execute(script, args, options)
    report = _report(outcome, resolver)
    findings = report.findings if report else []
    headline = _headline(outcome, options)
    human = output_format in ("concise", "full")
    table = report.table(parameters=show_params) if report is not None else ""
    if human:
        click.echo(headline)
        if table:
            click.echo(table)
        for attempt in outcome.network:
            click.echo(f"note: the script tried to reach {attempt}; featlint run blocks the network")
    rendered = render(output_format, Rendered(findings, _sources(findings), ALL_RULES, __version__))
    if not human:
        data = document.run_object(outcome, headline, _display(str(script.absolute())), report)
        rendered = document.render(output_format, rendered, data, report.table(parameters=False) if report else "",
                                   findings)
    if rendered:
        click.echo(rendered)
    _report_failure(outcome, options, findings)
    if human and (findings or outcome.ok):  # "All checks passed." would contradict the error line below
        click.echo(summary_line(findings, len({d.path for d in findings}), 0))
    if findings:
        return 0 if exit_zero else 1
    return 0 if outcome.ok else 2


def _report_failure(outcome: RunOutcome, options: RunOptions, findings: Sequence[Diagnostic]) -> None:
    """A run that could not judge: the script's own output, and the headline as an error when it found nothing."""
    if outcome.ok:
        return
    tail = _output_tail(outcome)
    if tail:
        click.echo(tail, err=True)
    if not findings:
        click.echo(f"error: {_headline(outcome, options)}", err=True)


def scripts_to_run(paths: Sequence[Path], args: Sequence[str]) -> list[Path]:
    """`check --runtime` runs the scripts named on the command line: a folder or no path at all is refused
    (which of its files train, and with what arguments, only the user knows)."""
    if not paths:
        raise click.UsageError("--runtime runs training scripts: name them (`featlint check --runtime train.py`)")
    for path in paths:
        if path.is_dir():
            raise click.UsageError(f"--runtime runs training scripts, and {path} is a folder: name the scripts to "
                                   f"run (`featlint check --runtime {path / 'train.py'}`), or lint the folder "
                                   "without --runtime")
        if not path.is_file() or path.suffix not in (".py", ".ipynb"):
            raise click.UsageError(f"--runtime runs Python scripts and notebooks: {path} is neither")
    if args and len(paths) > 1:
        raise click.UsageError("the script's arguments after `--` go to one script: name a single script")
    return list(paths)


def with_runtime(
    static: Sequence[Diagnostic], scripts: Sequence[Path], args: Sequence[str], sources: Mapping[str, str],
    options: RunOptions, resolver: SettingsResolver,
) -> tuple[list[Diagnostic], dict[str, str], bool]:
    """`featlint check --runtime`: run every script and merge its findings; False when a run could not judge
    (its headline and output were printed, as `featlint run` prints them)."""
    from featlint.runtime.merge import merge

    merged = list(static)
    all_sources = dict(sources)
    judged = True
    for path in scripts:
        outcome = execute(path, args, options)
        shown = _display(str(path.absolute()))
        report = _report(outcome, resolver)
        runtime = report or Report([], [])
        if not outcome.ok:
            _report_failure(outcome, options, runtime.findings)
            judged = judged and bool(runtime.findings)
        merged = merge(merged, runtime, shown if outcome.ok or runtime.findings else None)
        all_sources.update(_sources(runtime.findings))
    return merged, all_sources, judged


def _sources(findings: Sequence[Diagnostic]) -> dict[str, str]:
    sources = {}
    for path in {d.path for d in findings}:
        try:
            sources[path] = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return sources
