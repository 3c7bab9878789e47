"""Every output format on hand-built findings: fixes, every severity, awkward messages, paths and lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from featlint.diagnostics import Diagnostic, Edit, Fix, Location, Severity
from featlint.outputs import FORMATS, Report, render
from featlint.outputs.summary import statistics, summary_line
from featlint.rules.base import Rule

from .conftest import REPO, SARIF_SCHEMA

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_URLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]


TRAIN = "train.py"
TRAIN_TEXT = (
    "model = resnet18(pretrained=True)\n"
    "\tname = '日本語'  # ü\n"
    "x = f(a,\n"
    "      b)\n"
    "x = f(a,\n"
    "      b)\n"
)
COMMA = "data/a,b.py"
TRICKY_MESSAGE = "100% sure: a, b\nnext line"


class DemoRule(Rule):
    """
    ## What it does
    Finds the demo mistake, which is explained on
    two lines.

    A second paragraph that is not part of the description.

    ## Why is this bad?
    It is a demo.

    ## Example
    ```python
    bad()
    ```

    ## Use instead
    ```python
    good()
    ```
    """

    code = "FL990"
    name = "demo-rule"
    severity = Severity.ERROR
    summary = "A demo mistake"
    fixable = True


class UndocumentedInfoRule(DemoRule):
    # No docstring of its own: the SARIF descriptions fall back to the summary.
    code = "FL991"
    name = "demo-info"
    severity = Severity.INFO
    summary = "A demo hint"


def _diagnostic(
    code: str, severity: Severity, message: str, path: str, start: tuple[int, int], end: tuple[int, int],
    fix: Fix | None = None,
) -> Diagnostic:
    names = {"FL990": "demo-rule", "FL991": "demo-info"}
    return Diagnostic(code, names.get(code, "unregistered"), severity, message, path, Location(*start),
                      Location(*end), fix)


FIX = Fix("Pass `weights=` instead", (Edit("weights=W", Location(1, 18), Location(1, 33)),))
WITH_FIX = _diagnostic("FL990", Severity.ERROR, "`pretrained=` is deprecated", TRAIN, (1, 18), (1, 33), FIX)
# The span is the three CJK characters, after a tab.
WIDE = _diagnostic("FL991", Severity.INFO, "a hint", TRAIN, (2, 10), (2, 13))
MULTILINE = _diagnostic("FL990", Severity.ERROR, "a call", TRAIN, (3, 5), (4, 8))
# The same finding on an identical line further down.
MULTILINE_AGAIN = _diagnostic("FL990", Severity.ERROR, "a call", TRAIN, (5, 5), (6, 8))
PAST_THE_END = _diagnostic("FL990", Severity.ERROR, "beyond the text", TRAIN, (99, 1), (99, 2))
TRICKY = _diagnostic("FL992", Severity.WARNING, TRICKY_MESSAGE, COMMA, (1, 1), (1, 2))
ALL = [WITH_FIX, WIDE, MULTILINE, MULTILINE_AGAIN, PAST_THE_END, TRICKY]


def _report(diagnostics: list[Diagnostic], sources: dict[str, str] | None = None) -> Report:
    return Report(diagnostics, {TRAIN: TRAIN_TEXT} if sources is None else sources,
                  [DemoRule, UndocumentedInfoRule], "1.2.3")


def test_every_format_is_registered_and_unknown_ones_are_refused() -> None:
    assert set(FORMATS) == {"concise", "full", "json", "sarif", "github"}
    with pytest.raises(ValueError, match="xml"):
        render("xml", _report(ALL))


@pytest.mark.parametrize("fmt", ["concise", "full", "github", "json"])
def test_no_findings_render_nothing_to_print(fmt: str) -> None:
    assert render(fmt, _report([])) in ("", "[]")


def test_concise() -> None:
    assert render("concise", _report([WITH_FIX, WIDE])).splitlines() == [
        "train.py:1:18: FL990 [*] `pretrained=` is deprecated",
        "train.py:2:10: FL991 a hint",
    ]


def test_full_frames_the_span_and_shows_the_fix() -> None:
    assert render("full", _report([WITH_FIX, WIDE])) == "\n".join([
        "train.py:1:18: FL990 [*] `pretrained=` is deprecated",
        "  |",
        "1 | model = resnet18(pretrained=True)",
        "  |                  ^^^^^^^^^^^^^^^",
        "  |",
        "help: Pass `weights=` instead",
        "",
        "train.py:2:10: FL991 a hint",
        "  |",
        "2 |     name = '日本語'  # ü",
        # The tab is drawn as four cells and each CJK character as two.
        "  | " + " " * 12 + "^" * 6,
        "  |",
    ])


def test_full_underlines_a_multiline_span_to_the_end_of_its_first_line() -> None:
    assert render("full", _report([MULTILINE])).splitlines()[2:4] == ["3 | x = f(a,", "  |     ^^^^"]


def test_full_survives_spans_outside_the_text_and_unknown_files() -> None:
    past_the_line = _diagnostic("FL990", Severity.ERROR, "at the end", TRAIN, (1, 80), (1, 81))
    assert render("full", _report([PAST_THE_END])) == "train.py:99:1: FL990 beyond the text"
    assert render("full", _report([past_the_line])).splitlines()[3] == "  |" + " " * 34 + "^"
    assert render("full", _report([TRICKY])).startswith("data/a,b.py:1:1: FL992 100% sure")


def test_full_draws_control_characters_and_zero_width_marks_without_moving_the_carets() -> None:
    text = "a\x1bb = 'e\u0301'\n"
    found = _diagnostic("FL990", Severity.ERROR, "m", "c.py", (1, 7), (1, 11))
    frame = render("full", _report([found], {"c.py": text})).splitlines()
    assert frame[2:4] == ["1 | a\u241bb = 'e\u0301'", "  | " + " " * 6 + "^^^"]


def test_json_is_ruffs_fields() -> None:
    items = json.loads(render("json", _report([WITH_FIX, TRICKY])))
    assert items == [WITH_FIX.to_json(), TRICKY.to_json()]
    assert items[0]["fix"]["edits"][0]["location"] == {"row": 1, "column": 18}
    assert items[1]["message"] == TRICKY_MESSAGE


def test_github_escapes_data_and_properties() -> None:
    lines = render("github", _report([WITH_FIX, WIDE, TRICKY])).splitlines()
    assert lines == [
        "::error file=train.py,line=1,col=18,endLine=1,endColumn=33,title=FL990 demo-rule"
        "::train.py:1:18: FL990 `pretrained=` is deprecated",
        "::notice file=train.py,line=2,col=10,endLine=2,endColumn=13,title=FL991 demo-info"
        "::train.py:2:10: FL991 a hint",
        "::warning file=data/a%2Cb.py,line=1,col=1,endLine=1,endColumn=2,title=FL992 unregistered"
        "::data/a,b.py:1:1: FL992 100%25 sure: a, b%0Anext line",
    ]


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def _sarif(diagnostics: list[Diagnostic]) -> dict:
    return json.loads(render("sarif", _report(diagnostics)))


def test_sarif_validates_against_the_official_schema(in_project: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    outside = str(in_project.parent / "other" / "x.py")
    log = _sarif([*ALL, _diagnostic("FL990", Severity.ERROR, "far away", outside, (1, 1), (1, 2))])
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and log["version"] == "2.1.0"
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": in_project.as_uri() + "/"}}
    assert len(run["results"]) == len(ALL) + 1
    assert run["results"][-1]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": Path(outside).as_uri()
    }


def test_sarif_describes_every_rule(in_project: Path) -> None:
    driver = _sarif([])["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"]) == ("featlint", "1.2.3", "1.2.3")
    assert driver["informationUri"] == PROJECT_URLS["Homepage"]
    demo, info = driver["rules"]
    assert demo == {
        "id": "FL990",
        "name": "demo-rule",
        "shortDescription": {"text": "A demo mistake"},
        "fullDescription": {"text": "Finds the demo mistake, which is explained on two lines."},
        "help": {"text": DemoRule.documentation(), "markdown": DemoRule.documentation()},
        "helpUri": f"{PROJECT_URLS['Rules']}#fl990",
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["pytorch", "transfer-learning"], "precision": "high", "problem.severity": "error"},
    }
    assert info["fullDescription"] == {"text": "A demo hint"}
    assert info["help"] == {"text": "A demo hint", "markdown": "A demo hint"}
    assert info["defaultConfiguration"] == {"level": "note"}
    assert info["properties"]["problem.severity"] == "recommendation"


def test_sarif_descriptions_fit_githubs_limit(in_project: Path) -> None:
    verbose = type("VerboseRule", (DemoRule,), {"__doc__": "## What it does\n" + "word " * 400, "code": "FL993"})
    rule = json.loads(render("sarif", Report([], {}, [verbose], "1")))["runs"][0]["tool"]["driver"]["rules"][0]
    description = rule["fullDescription"]["text"]
    assert len(description) <= 1024 and description.startswith("word word") and description.endswith("\u2026")


def test_sarif_results(in_project: Path) -> None:
    results = _sarif(ALL)["runs"][0]["results"]
    with_fix, wide, _, _, _, tricky = results
    assert with_fix["ruleId"] == "FL990" and with_fix["ruleIndex"] == 0 and with_fix["level"] == "error"
    assert with_fix["message"] == {"text": "`pretrained=` is deprecated"}
    assert with_fix["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "train.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1, "startColumn": 18, "endLine": 1, "endColumn": 33},
    }
    assert (wide["ruleIndex"], wide["level"]) == (1, "note")
    # A code outside the registry still renders, without an index into the rules.
    assert "ruleIndex" not in tricky and tricky["level"] == "warning"
    assert tricky["message"]["text"] == TRICKY_MESSAGE
    assert tricky["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "data/a,b.py"


def test_sarif_uris_are_relative_with_forward_slashes_and_escaped(in_project: Path) -> None:
    def uri(path: str) -> dict[str, str]:
        found = _diagnostic("FL990", Severity.ERROR, "m", path, (1, 1), (1, 2))
        return _sarif([found])["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]

    assert uri(str(in_project / "src" / "train.py")) == {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"}
    assert uri("./src/../my model.py") == {"uri": "my%20model.py", "uriBaseId": "%SRCROOT%"}
    assert uri("../other/x.py") == {"uri": (in_project.parent / "other" / "x.py").as_uri()}


def _fingerprint(result: dict) -> str:
    return result["partialFingerprints"]["featlint/v1"]


def test_sarif_fingerprints_survive_moved_lines_and_tell_identical_lines_apart(in_project: Path) -> None:
    first, again = (_fingerprint(r) for r in _sarif([MULTILINE, MULTILINE_AGAIN])["runs"][0]["results"])
    assert first != again
    moved_text = "# a new first line\n" + TRAIN_TEXT
    moved = Report([_diagnostic("FL990", Severity.ERROR, "a call", TRAIN, (4, 5), (5, 8))],
                   {TRAIN: moved_text}, [DemoRule], "1.2.3")
    assert _fingerprint(json.loads(render("sarif", moved))["runs"][0]["results"][0]) == first
    assert _fingerprint(_sarif([WITH_FIX])["runs"][0]["results"][0]) != first


def test_summary_line() -> None:
    assert summary_line([], 0, 0) == "All checks passed."
    assert summary_line([WITH_FIX], 1, 1) == (
        "Found 1 problem (1 error) in 1 file.\n[*] 1 fixable with the --fix option."
    )
    assert summary_line([MULTILINE, TRICKY, WIDE, MULTILINE_AGAIN], 2, 0) == (
        "Found 4 problems (2 errors, 1 warning, 1 info) in 2 files."
    )
    assert summary_line([WIDE, WIDE], 1, 0) == "Found 2 problems (2 infos) in 1 file."


def test_statistics_counts_per_code_most_frequent_first() -> None:
    assert statistics([TRICKY, WIDE, MULTILINE, WITH_FIX, WIDE]).splitlines() == [
        "    2\tFL990\t[*]\tdemo-rule",
        "    2\tFL991\t[ ]\tdemo-info",
        "    1\tFL992\t[ ]\tunregistered",
    ]
    assert statistics([]) == ""


def test_web_addresses_come_from_one_setting() -> None:
    """`[project.urls]` in pyproject.toml is the only place featlint's web addresses are written: rule links
    in every format (JSON url, SARIF helpUri, the editor's link) and SARIF's informationUri are built from it."""
    from featlint.urls import homepage, rule_url

    assert rule_url("FL101") == PROJECT_URLS["Rules"] + "#fl101" and homepage() == PROJECT_URLS["Homepage"]
    finding = _diagnostic("FL101", Severity.ERROR, "m", TRAIN, (1, 1), (1, 2))
    assert json.loads(render("json", _report([finding])))[0]["url"] == rule_url("FL101")
    from featlint.urls import from_metadata

    assert from_metadata([f"{label}, {address}" for label, address in PROJECT_URLS.items()]) == PROJECT_URLS
    written = [path for path in (REPO / "featlint").rglob("*.py") if "github.com/featlint" in path.read_text("utf-8")]
    assert written == []
