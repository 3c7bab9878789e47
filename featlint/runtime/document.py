"""`featlint run`'s report in the machine-readable formats: everything the text report shows, in one schema.

`--output-format json` prints one object (schema "featlint-run/1", documented in the README): the run (script,
status, steps, error, notes, what the script tried to reach or wrote), the per-module table and the
per-parameter rows with the meaning of each column, and the findings, each as `featlint check` prints it
plus `related` (the lines of the user's code it involves) and `subjects` (the modules or parameters it is
about). SARIF carries the same object, without the findings (they are the SARIF results), in the run's
`properties.featlintRun`; the github format adds a notice with the headline and the notes, and the table in a
collapsed log group. Torch-free.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from featlint.diagnostics import Diagnostic
from featlint.outputs.github import escape_data
from featlint.runtime.report import COLUMNS, Report
from featlint.runtime.runner import RunOutcome

SCHEMA = "featlint-run/1"


def run_object(outcome: RunOutcome, headline: str, script: str, report: Report | None) -> dict[str, Any]:
    """The run as one JSON object; `report` is the run's report after selection and `# noqa`."""
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "script": script,
        "status": outcome.status,
        "headline": headline,
        "steps": outcome.steps,
        "error": outcome.error,
        "error_site": outcome.error_site,
        "network": list(outcome.network),
        "written": list(outcome.written),
        "notes": list(report.notes) if report else [],
        "columns": COLUMNS,
        "modules": [dataclasses.asdict(m) for m in report.modules] if report else [],
        "parameters": [dataclasses.asdict(r) for r in report.rows] if report else [],
        "peft": [counts.to_dict() for counts in report.adapters] if report else [],
        "findings": report.to_dict()["findings"] if report else [],
    }
    return data


def render(fmt: str, rendered: str, data: dict[str, Any], table: str, findings: Sequence[Diagnostic]) -> str:
    """`rendered` is the findings in `fmt` as `featlint check` prints them; the run's own data is added."""
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "sarif":
        document = json.loads(rendered)
        document["runs"][0].setdefault("properties", {})["featlintRun"] = {
            key: value for key, value in data.items() if key != "findings"}
        return json.dumps(document, indent=2)
    if fmt == "github":
        lines = [f"::notice title=featlint run::{escape_data(data['headline'])}"]
        lines += [f"::notice title=featlint run note::{escape_data(note)}" for note in data["notes"]]
        if table:
            lines += ["::group::featlint run: what trains", table, "::endgroup::"]
        return "\n".join([*lines, rendered] if findings else lines)
    return rendered
