"""The command-line side of the runtime checker: `featlint run` and `featlint check --runtime`.

cli.py declares the options and calls these; nothing here imports torch (the script runs in a child).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from featlint.diagnostics import Diagnostic
from featlint.runtime.runner import RunOutcome, run_script

OUTPUT_TAIL = 40  # lines of the script's output shown when it fails


@dataclasses.dataclass(frozen=True)
class RunOptions:
    steps: int
    timeout: float
    device: str
    fake_data: bool

    @classmethod
    def defaults(cls) -> RunOptions:
        from featlint.runtime.runner import DEFAULT_STEPS, DEFAULT_TIMEOUT

        return cls(steps=DEFAULT_STEPS, timeout=DEFAULT_TIMEOUT, device="cpu", fake_data=False)


def _display(path: str) -> str:
    from featlint.running.session import display_path

    return display_path(Path(path), Path.cwd().absolute()) if os.path.isabs(path) else path


def _displayed(findings: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [dataclasses.replace(d, path=_display(d.path)) for d in findings]


def _headline(outcome: RunOutcome, options: RunOptions) -> str:
    name = _display(os.path.abspath(outcome.script))
    steps = f"{outcome.steps} optimizer step{'s' if outcome.steps != 1 else ''}"
    return {
        "stopped": f"{name}: watched {steps}, then stopped the script (--steps {options.steps})",
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


def execute(script: Path, args: Sequence[str], options: RunOptions) -> RunOutcome:
    import importlib.util

    if not script.is_file():
        raise click.UsageError(f"{script}: no such script")
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchvision") is None:
        raise click.UsageError('the runtime checker needs torch and torchvision: pip install "featlint[runtime]"')
    if script.suffix == ".ipynb":
        return _execute_notebook(script, args, options)
    return run_script(script, args, steps=options.steps, timeout=options.timeout, device=options.device,
                      fake_data=options.fake_data)


def _execute_notebook(path: Path, args: Sequence[str], options: RunOptions) -> RunOutcome:
    """The notebook's code cells in order, as one script, under the same harness; findings name cells."""
    from featlint.reading.source import UnreadableSource
    from featlint.runtime.notebook_script import as_script, into_notebook, not_run

    try:
        with as_script(path) as (script, notebook):
            note = not_run(notebook)
            if note is not None:
                click.echo(f"note: {note}", err=True)
            outcome = run_script(script, args, steps=options.steps, timeout=options.timeout, device=options.device,
                                 fake_data=options.fake_data)
    except (UnreadableSource, OSError) as error:
        raise click.UsageError(f"{path}: {getattr(error, 'message', None) or error}") from None
    report = outcome.report
    if report is not None:
        report = dataclasses.replace(report, findings=into_notebook(report.findings, script, path, notebook))
    return dataclasses.replace(outcome, script=str(path), report=report)


def run_command(
    script: Path, args: Sequence[str], options: RunOptions, output_format: str, show_params: bool,
    exit_zero: bool,
) -> int:
    """`featlint run`: print the report in the chosen format and return the exit status."""
    from featlint.version import __version__
    from featlint.outputs import Report, render
    from featlint.outputs.summary import summary_line
    from featlint.rules import ALL_RULES

    outcome = execute(script, args, options)
    findings = _displayed(outcome.report.findings) if outcome.report else []
    human = output_format in ("concise", "full")
    if human:
        click.echo(_headline(outcome, options))
        if outcome.report is not None:
            click.echo(outcome.report.table(parameters=show_params))
        for attempt in outcome.network:
            click.echo(f"note: the script tried to reach {attempt}; featlint run blocks the network")
    text = render(output_format, Report(findings, _sources(findings), ALL_RULES, __version__))
    if text:
        click.echo(text)
    if not outcome.ok:
        tail = _output_tail(outcome)
        if tail:
            click.echo(tail, err=True)
    if human and (findings or outcome.ok):  # "All checks passed." would contradict the error line below
        click.echo(summary_line(findings, len({d.path for d in findings}), 0))
    if findings:
        return 0 if exit_zero else 1
    if not outcome.ok:
        click.echo(f"error: {_headline(outcome, options)}", err=True)
        return 2
    return 0


def with_runtime(
    static: Sequence[Diagnostic], paths: Sequence[Path], sources: Mapping[str, str], options: RunOptions
) -> tuple[list[Diagnostic], dict[str, str]]:
    """`featlint check --runtime`: run every script named on the command line and merge its findings."""
    from featlint.runtime.merge import merge

    merged = list(static)
    all_sources = dict(sources)
    for path in paths:
        if not (path.is_file() and path.suffix in (".py", ".ipynb")):
            continue
        outcome = execute(path, (), options)
        shown = _display(str(path.absolute()))
        if not outcome.ok:
            click.echo(f"warning: --runtime: {_headline(outcome, options)}", err=True)
        runtime = _displayed(outcome.report.findings) if outcome.report else []
        merged = merge(merged, runtime, shown if outcome.ok or runtime else None)
        all_sources.update(_sources(runtime))
    return merged, all_sources


def _sources(findings: Sequence[Diagnostic]) -> dict[str, str]:
    sources = {}
    for path in {d.path for d in findings}:
        try:
            sources[path] = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return sources
