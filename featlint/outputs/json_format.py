"""A JSON array with ruff's field names, so tools written for `ruff --output-format json` read it unchanged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featlint.outputs.report import Report


def render(report: Report) -> str:
    return json.dumps([d.to_json() for d in report.diagnostics], indent=2)
