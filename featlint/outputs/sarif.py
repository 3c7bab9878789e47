"""SARIF 2.1.0 as GitHub code scanning reads it (`github/codeql-action/upload-sarif`).

Code scanning keys an alert on the rule, the file and a fingerprint: the same finding must produce the same
uri and fingerprint on every run and every checkout, or alerts are closed and reopened on each push. Hence
repository-relative uris under `%SRCROOT%`, and a fingerprint made from the line's text rather than its row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from featlint.diagnostics import Diagnostic
from featlint.outputs._shared import LEVELS, SourceLines
from featlint.urls import homepage, rule_url

if TYPE_CHECKING:
    from featlint.outputs.report import Report
    from featlint.rules.base import Rule
    from featlint.running.results import InternalError

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "featlint/v1"
SRCROOT = "%SRCROOT%"
# GitHub truncates longer descriptions.
DESCRIPTION_LIMIT = 1024
# RFC 3986 sub-delimiters and "@" are legal in a path as they are; ":" is escaped because in a relative
# reference's first segment it would read as a scheme ("c:x.py").
_URI_SAFE = "/!$&'()*+,;=@"


def _what_it_does(documentation: str) -> str | None:
    """The first paragraph of the `## What it does` section, its lines joined as markdown would render them."""
    lines = iter(documentation.splitlines())
    # `any` stops right after the heading, so the loop below reads on from there.
    if not any(line.strip() == "## What it does" for line in lines):
        return None
    paragraph: list[str] = []
    for line in lines:
        if line.startswith("#") or (not line.strip() and paragraph):
            break
        if line.strip():
            paragraph.append(line.strip())
    return " ".join(paragraph) or None


def _truncate(text: str) -> str:
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1].rstrip() + "\u2026"


def _rule(rule: type[Rule]) -> dict[str, Any]:
    documentation = rule.documentation() or rule.summary
    levels = LEVELS[rule.severity]
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": _truncate(rule.summary)},
        "fullDescription": {"text": _truncate(_what_it_does(documentation) or rule.summary)},
        "help": {"text": documentation, "markdown": documentation},
        "helpUri": rule_url(rule.code),
        "defaultConfiguration": {"level": levels.sarif},
        "properties": {
            "tags": ["pytorch", "transfer-learning"],
            "precision": "high",
            "problem.severity": levels.problem,
        },
    }


def artifact_location(path: str, cwd: Path) -> dict[str, str]:
    """A uri relative to `cwd` (the repository root in CI) with forward slashes, or a file URI outside it."""
    absolute = Path(os.path.normpath(cwd / path))
    try:
        relative = absolute.relative_to(cwd)
    except ValueError:
        return {"uri": absolute.as_uri()}
    # Bytes, so that a file name that is not valid UTF-8 is escaped byte for byte instead of failing.
    return {"uri": quote(os.fsencode(relative.as_posix()), safe=_URI_SAFE), "uriBaseId": SRCROOT}


def _fingerprint(code: str, uri: str, line: str, occurrence: int) -> str:
    # No row: a finding keeps its fingerprint when lines are added above it. The occurrence tells apart the
    # same finding on identical lines of one file.
    key = "\0".join((code, uri, line, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _result(
    diagnostic: Diagnostic, location: dict[str, str], fingerprint: str, index: int | None,
    region: tuple[int, int, int, int],
) -> dict[str, Any]:
    start_row, start_column, end_row, end_column = region
    result: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "level": LEVELS[diagnostic.severity].sarif,
        "message": {"text": diagnostic.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": location,
            "region": {
                "startLine": start_row,
                "startColumn": start_column,
                "endLine": end_row,
                "endColumn": end_column,
            },
        }}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if diagnostic.cell is not None:  # the region is in the .ipynb's JSON; where the code is in its cell
        result["properties"] = {
            "notebookCell": diagnostic.cell, "cellLine": diagnostic.start.row, "cellColumn": diagnostic.start.column,
        }
    if index is not None:  # a finding of a rule outside the registry still shows, just without its metadata
        result["ruleIndex"] = index
    return result


def _invocation(errors: Sequence[InternalError], rule_index: dict[str, int], cwd: Path) -> dict[str, Any]:
    """Whether the run checked everything: an internal error is a tool execution notification and makes the
    invocation unsuccessful, so code scanning shows that the analysis failed instead of a clean file."""
    notifications = []
    for error in errors:
        region = {"startLine": error.line} if error.line is not None else {}
        location: dict[str, Any] = {"artifactLocation": artifact_location(error.path, cwd)}
        if region:
            location["region"] = region
        notification: dict[str, Any] = {
            "level": "error",
            "message": {"text": str(error)},
            "locations": [{"physicalLocation": location}],
        }
        if error.code is not None:
            rule: dict[str, Any] = {"id": error.code}
            if error.code in rule_index:
                rule["index"] = rule_index[error.code]
            notification["associatedRule"] = rule
        notifications.append(notification)
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}


def _srcroot(cwd: Path) -> str:
    uri = cwd.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def render(report: Report) -> str:
    cwd = Path.cwd()
    rule_index = {rule.code: index for index, rule in enumerate(report.rules)}
    lines = SourceLines(report.sources)
    seen: Counter[tuple[str, str, str]] = Counter()
    results = []
    for d in report.diagnostics:
        location = artifact_location(d.path, cwd)
        key = (d.code, location["uri"], (lines.line(d.path, d.start.row, d.cell) or "").strip())
        seen[key] += 1
        results.append(_result(d, location, _fingerprint(*key, seen[key]), rule_index.get(d.code), lines.file_region(d)))
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "featlint",
                "semanticVersion": report.version,
                "version": report.version,
                "informationUri": homepage(),
                "rules": [_rule(rule) for rule in report.rules],
            }},
            "invocations": [_invocation(report.errors, rule_index, cwd)],
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {SRCROOT: {"uri": _srcroot(cwd)}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2)
