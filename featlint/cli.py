"""The command line: `featlint [check] PATHS`, `featlint rules`, `featlint explain CODE`.

Exit codes follow ruff: 0 nothing found, 1 findings, 2 a usage or configuration error or an internal error.
click exits 1 on its own generic errors, which would read as "findings", so `main` runs click in
non-standalone mode and maps every error to 2 itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from featlint.version import __version__
from featlint.lsp import DEFAULT_DEBOUNCE_MS

if TYPE_CHECKING:
    from featlint.runtime.command import RunOptions
    from featlint.running.results import InternalError
    from featlint.fixes import FixRun

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
OUTPUT_FORMATS = ("concise", "full", "json", "sarif", "github")


class _DefaultToCheck(click.Group):
    """`featlint train.py` means `featlint check train.py`, as `ruff` once did."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = next((arg for arg in args if not arg.startswith("-")), None)
        top_level_flags = {"--version", "--help", "-h"}
        if (first is None and not top_level_flags.intersection(args)) or (
            first is not None and first not in self.commands
        ):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="featlint", message="%(prog)s %(version)s")
def cli() -> None:
    """featlint: find the mistakes made when reusing a pretrained PyTorch model."""


class _ScriptArguments(click.Command):
    """`featlint check --runtime train.py -- --epochs 5`: what follows `--` goes to the script, not to PATHS."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--runtime" in args and "--" in args:
            split = args.index("--")
            args, ctx.meta["script_args"] = args[:split], tuple(args[split + 1:])
        return super().parse_args(ctx, args)


def _runtime_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of a run, shared by `featlint run` and `featlint check --runtime`."""
    options = [
        click.option("--steps", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Optimizer steps to watch before the script is stopped."),
        click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True,
                     help="Seconds before the script is stopped and what it built is reported."),
        click.option("--device", type=click.Choice(("cpu", "cuda", "meta")), default="cpu", show_default=True,
                     help="cpu/cuda: real values; meta: builds any model instantly, compares no values."),
        click.option("--fake-data", is_flag=True,
                     help="Replace torchvision datasets that cannot be loaded by random images."),
        click.option("--python", "python", metavar="PATH",
                     help="The interpreter that runs the script.  [default: $VIRTUAL_ENV's, else featlint's own]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run_options(steps: int, timeout: float, device: str, fake_data: bool, python: str | None) -> RunOptions:
    from featlint.runtime.command import RunOptions

    return RunOptions(steps=steps, timeout=timeout, device=device, fake_data=fake_data, python=python)


def _codes(values: Sequence[str]) -> tuple[str, ...]:
    from featlint.config import split_codes

    return split_codes(values)


@cli.command(cls=_ScriptArguments)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="concise", show_default=True,
              envvar="FEATLINT_OUTPUT_FORMAT", help="How findings are printed.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Rules to enable: codes, prefixes (FL2) or ALL; replaces the configured selection.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rules to enable on top of the selection.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rules to disable.")
@click.option("--exclude", multiple=True, metavar="PATTERN", help="Replace the list of excluded paths.")
@click.option("--extend-exclude", multiple=True, metavar="PATTERN", help="Exclude these paths as well.")
@click.option("--per-file-ignores", multiple=True, metavar="GLOB:CODES", help="Disable rules for some files.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Use this pyproject.toml instead of the nearest one.")
@click.option("--force-exclude", is_flag=True, help="Apply the excludes to files named on the command line too.")
@click.option("--stdin-filename", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH",
              help="Lint standard input as the file PATH (its settings, per-file-ignores, name in messages).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of each finding.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, apply the unsafe fixes too.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and write nothing (exit 1 if any).")
@click.option("--runtime", is_flag=True,
              help="Also run each script named (as `featlint run` does, with the script's arguments after `--`) "
                   "and mark the findings it confirms.")
@_runtime_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
              help="Lint in N processes at once.  [default: the number of CPUs]")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the result cache (.featlint_cache/ at the project root).")
def check(
    paths: tuple[Path, ...],
    output_format: str,
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    per_file_ignores: tuple[str, ...],
    config_file: Path | None,
    force_exclude: bool,
    stdin_filename: Path | None,
    exit_zero: bool,
    statistics: bool,
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    runtime: bool,
    steps: int,
    timeout: float,
    device: str,
    fake_data: bool,
    python: str | None,
    jobs: int | None,
    no_cache: bool,
) -> None:
    """Lint PATHS (files or directories; the current directory when none is given; `-` for standard input)."""
    from featlint.config import ConfigError, Overrides, SettingsResolver, parse_per_file_ignore
    from featlint.running.cache import Cache
    from featlint.running.session import run, run_stdin
    from featlint.outputs import Report, render
    from featlint.running.parallel import default_jobs
    from featlint.outputs.summary import statistics as statistics_table
    from featlint.outputs.summary import summary_line
    from featlint.rules import ALL_RULES

    try:
        overrides = Overrides(
            select=_codes(select) if select else None,
            extend_select=_codes(extend_select),
            ignore=_codes(ignore),
            exclude=tuple(exclude) if exclude else None,
            extend_exclude=tuple(extend_exclude),
            per_file_ignores=tuple(parse_per_file_ignore(value) for value in per_file_ignores),
        )
        if config_file is not None and not config_file.is_file():
            raise ConfigError(f"{config_file}: no such configuration file")
        resolver = SettingsResolver(overrides, config_file)
        stdin = _reads_stdin(paths, stdin_filename, runtime)
        scripts = None
        if runtime:
            from featlint.runtime.command import scripts_to_run

            scripts = scripts_to_run(paths, click.get_current_context().meta.get("script_args", ()))
        if stdin is not None:
            result = run_stdin(stdin, stdin_filename, resolver, force_exclude=force_exclude)
        else:
            cache = None if no_cache else Cache.at_project_root(resolver.for_directory(resolver.cwd).root)
            result = run(list(paths) or [Path(".")], resolver, force_exclude=force_exclude,
                         jobs=jobs or default_jobs(), cache=cache)
    except ConfigError as error:
        _config_error(error)
    # ruff's convention: with --fix (or --diff) on standard input, stdout carries the source (or the patch),
    # so the findings and the summary go to stderr.
    report_to_stderr = stdin is not None and (fix or diff)

    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    fixed = uncovered = 0
    if fix or diff:
        from featlint import fixes

        fixing = fixes.fix_run(result, fixes.rules_from(resolver), unsafe=unsafe_fixes,
                               write=not diff and stdin is None)
        for warning in fixing.warnings:
            click.echo(f"warning: {warning}", err=True)
        if diff:
            _print_diff(fixing, result.errors, summary_to_stderr=report_to_stderr)
        if stdin is not None:
            _echo_fixed_stdin(stdin, fixing)
        result, fixed, uncovered = fixing.result, fixing.fixed, fixing.uncovered
    diagnostics = result.diagnostics
    sources = {f.path: f.source for f in result.files if f.diagnostics and f.source is not None}
    judged = True
    if scripts is not None:
        from featlint.runtime.command import with_runtime

        diagnostics, sources, judged = with_runtime(
            diagnostics, scripts, click.get_current_context().meta.get("script_args", ()), sources,
            _run_options(steps, timeout, device, fake_data, python), resolver)
    if statistics:
        if diagnostics:
            click.echo(statistics_table(diagnostics), err=report_to_stderr)
    else:
        report = Report(diagnostics, sources, ALL_RULES, __version__, fixed=fixed, errors=result.errors)
        text = render(output_format, report)
        if text:
            click.echo(text, err=report_to_stderr)
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if output_format in ("concise", "full") or statistics:
        files = len({d.path for d in diagnostics})
        from featlint.fixes import fix_counts

        fixable, hidden = fix_counts(diagnostics, unsafe_fixes)
        summary = summary_line(diagnostics, files, fixable, fixed=fixed, hidden_fixes=hidden, uncovered=uncovered,
                               internal_errors=len(result.errors))
        click.echo(summary, err=report_to_stderr)
    if result.errors or not judged:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if diagnostics and not exit_zero else EXIT_CLEAN)


def _config_error(error: Exception) -> NoReturn:
    """A setting that cannot be used is not a misuse of the command line: no usage banner, just the file and
    the key (the message names both), exit 2."""
    click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_ERROR)


@cli.command(context_settings={"allow_interspersed_args": False})
@click.argument("script", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@_runtime_options
@click.option("--select", multiple=True, metavar="CODES",
              help="Rules to report: codes, prefixes (FL7) or ALL; replaces the configured selection.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Rules to report on top of the selection.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rules not to report.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="concise", show_default=True,
              envvar="FEATLINT_OUTPUT_FORMAT", help="How findings are printed.")
@click.option("--show-params", is_flag=True, help="Print one line per parameter below the per-module table.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
def run(
    script: Path, script_args: tuple[str, ...], steps: int, timeout: float, device: str, fake_data: bool,
    python: str | None, select: tuple[str, ...], extend_select: tuple[str, ...], ignore: tuple[str, ...],
    output_format: str, show_params: bool, exit_zero: bool,
) -> None:
    """Run SCRIPT (with SCRIPT_ARGS after `--`) in a child process and report what its first optimizer
    steps really train (needs torch where the script runs: see --python). Findings follow the selection,
    per-file-ignores and `# noqa` comments of the files they point at, as `featlint check` does."""
    from featlint.config import ConfigError, Overrides, SettingsResolver
    from featlint.runtime.command import run_command

    if script_args[:1] == ("--",):  # options stop at SCRIPT, so click keeps the separator
        script_args = script_args[1:]
    try:
        resolver = SettingsResolver(Overrides(select=_codes(select) if select else None,
                                              extend_select=_codes(extend_select), ignore=_codes(ignore)))
        resolver.for_file(script.absolute())  # a configuration error stops the run before the script starts
    except ConfigError as error:
        _config_error(error)
    options = _run_options(steps, timeout, device, fake_data, python)
    sys.exit(run_command(script, script_args, options, resolver, output_format, show_params, exit_zero))


def _reads_stdin(paths: tuple[Path, ...], stdin_filename: Path | None, runtime: bool) -> bytes | None:
    """Standard input's bytes when the command asks for it (`-`, or `--stdin-filename`), else None."""
    from featlint.running.session import STDIN

    if stdin_filename is None and Path(STDIN) not in paths:
        return None
    if any(path != Path(STDIN) for path in paths):
        raise click.UsageError("standard input (`-` or --stdin-filename) cannot be linted together with paths")
    if runtime:
        raise click.UsageError("--runtime runs a script file; it cannot run standard input")
    return sys.stdin.buffer.read()


def _echo_fixed_stdin(data: bytes, fixing: FixRun) -> None:
    """`--fix` on standard input writes the whole fixed source to stdout, as ruff does (unchanged when nothing
    applies, excluded or not Python), in the input's own encoding."""
    from featlint.fixes import encoded_as

    after = next((outcome.after for outcome in fixing.outcomes), None)
    try:
        fixed = data if after is None else encoded_as(after, data)
    except UnicodeEncodeError as error:
        click.echo(f"warning: the fixed text cannot be written in the input's encoding ({error.encoding}); "
                   "it is printed unchanged", err=True)
        fixed = data
    sys.stdout.flush()
    sys.stdout.buffer.write(fixed)
    sys.stdout.flush()


def _print_diff(fixing: FixRun, errors: Sequence[InternalError], *, summary_to_stderr: bool = False) -> None:
    """`--diff`: the fixes as a patch on stdout, nothing written; exit 1 when there is something to fix."""
    from featlint.fixes import unified_diff

    for outcome in fixing.outcomes:
        click.echo(unified_diff(outcome), nl=False)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    count = fixing.fixed
    click.echo(f"Would fix {count} problem{'s' if count != 1 else ''}." if count else "No fixes available.",
               err=summary_to_stderr)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if count else EXIT_CLEAN)


@cli.command()
@click.option("--debounce-ms", type=click.IntRange(0, 5000), default=DEFAULT_DEBOUNCE_MS, show_default=True,
              help="Wait this long after the last change before linting a document.")
def server(debounce_ms: int) -> None:
    """Run the language server on stdio, for editors (needs `pip install 'featlint[lsp]'`)."""
    import importlib.util

    if importlib.util.find_spec("pygls") is None:
        click.echo(
            "error: `featlint server` needs the language-server extra, which is not installed: "
            "pip install 'featlint[lsp]'",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    from featlint.lsp.server import serve

    serve(debounce_ms)


@cli.command()
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List every rule: code, name, severity, default on/off and whether it has a fix."""
    from featlint.rules import ALL_RULES

    if output_format == "json":
        click.echo(json.dumps([
            {"code": r.code, "name": r.name, "severity": r.severity.value, "default": r.default_enabled,
             "fixable": r.fixable, "summary": r.summary} for r in ALL_RULES
        ], indent=2))
        return
    rows = [("code", "name", "severity", "default", "fix", "summary")] + [
        (r.code, r.name, r.severity.value, "on" if r.default_enabled else "off", "yes" if r.fixable else "no",
         r.summary) for r in ALL_RULES
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]  # the summary needs no padding
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[5]]))


@cli.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Print the documentation of RULE (a code such as FL301, or a name such as head-size-mismatch)."""
    from featlint.rules import RULES_BY_CODE, RULES_BY_NAME

    found = RULES_BY_CODE.get(rule.upper()) or RULES_BY_NAME.get(rule.lower())
    if found is None:
        raise click.UsageError(f"unknown rule {rule!r} (see `featlint rules`)")
    status = "on by default" if found.default_enabled else "off by default (enable it with --select)"
    fix = "A fix is available." if found.fixable else "No fix is available."
    click.echo(f"# {found.name} ({found.code})\n\nSeverity: {found.severity.value}; {status}. {fix}\n")
    click.echo(found.documentation())


def main(argv: Sequence[str] | None = None) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="featlint", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(EXIT_ERROR)
    except Exception as error:  # noqa: BLE001 - a crash must read as an error, never as "findings"
        click.echo(f"featlint: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CLEAN)
