"""Notebooks as first-class input: reading (IPython syntax, broken notebooks), positions in every output,
suppression and configuration, fixes that leave every other byte alone, and the notebook fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from featlint import lint_source
from featlint.config import Overrides, SettingsResolver
from featlint.reading.notebook import read_notebook
from featlint.running.session import lint_paths, run

from .conftest import REPO, run_featlint
from .notebook_form import notebook

NOTEBOOKS = REPO / "fixtures" / "notebooks"
_EXPECT = re.compile(r"#\s*expect:\s*((?:FL\d{3}\s*)+)")

SCRIPT = (
    "# Markdown:\n# Fine-tuning\n"
    "# In[1]:\nimport torch\nimport torchvision\n"
    "# In[2]:\nmodel = torchvision.models.resnet50(pretrained=True)\n"
    "# In[3]:\nfor p in model.parameters():\n    p.requires_grad = False\nmodel.fc = torch.nn.Linear(2048, 2)\n"
    "# In[4]:\noptimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
)


def _found(text: str) -> list[tuple[int | None, int, int, str]]:
    return [(d.cell, d.start.row, d.start.column, d.code) for d in lint_source(text, "nb.ipynb")]


# --- reading ----------------------------------------------------------------------------------------------
def test_code_cells_are_one_program_and_findings_name_their_cell() -> None:
    found = lint_source(notebook(SCRIPT), "nb.ipynb")
    # Cell 1 is markdown: the code cells are 2..5, as ruff numbers them.
    assert [(d.cell, d.start.row, d.start.column, d.code) for d in found] == [(3, 1, 37, "FL305"), (5, 1, 29, "FL202")]
    assert "frozen on cell 4, line 2" in found[1].message


IPYTHON = [
    "%matplotlib inline", "!pip install timm", "!pip install \\\n    timm", "files = !ls", "x = %sx ls",
    "model?", "??model", "model.fc??", "%load_ext autoreload\n%autoreload 2", "await asyncio.sleep(0)",
    "%%capture\n!pip install timm", "%%bash\nfor p in model: do echo; done", "%%writefile train.py\nimport os(",
    "%%html\n<b>x</b>", "for i in range(2):\n    !echo {i}",
]


@pytest.mark.parametrize("cell", IPYTHON)
def test_ipython_syntax_is_never_a_finding(cell: str) -> None:
    text = notebook(f"# In[1]:\nimport torch\n# In[2]:\n{cell}\n")
    assert lint_source(text, "nb.ipynb", select=["ALL"]) == []


def test_code_after_a_time_magic_is_analysed_at_its_own_column() -> None:
    text = notebook("# In[1]:\nimport torchvision\n# In[2]:\n%time model = torchvision.models.resnet18(pretrained=True)\n")
    assert _found(text) == [(2, 1, 43, "FL305")]
    text = notebook("# In[1]:\nimport torchvision\n# In[2]:\n%%time\nmodel = torchvision.models.resnet18(pretrained=True)\n")
    assert _found(text) == [(2, 2, 37, "FL305")]


def test_a_cell_indented_as_a_whole_runs_dedented_as_in_ipython() -> None:
    text = notebook("# In[1]:\n import torchvision\n model = torchvision.models.resnet18(pretrained=True)\n")
    assert _found(text) == [(1, 2, 38, "FL305")]


def test_percent_lines_inside_strings_and_brackets_are_python() -> None:
    program = read_notebook(notebook('# In[1]:\ns = """\n%d items\n"""\ny = (1\n % 2)\n')).program
    assert program == 's = """\n%d items\n"""\ny = (1\n % 2)\n'


def test_a_bash_cell_is_not_python() -> None:
    text = notebook("# In[1]:\nimport torch\n# In[2]:\n%%bash\nfor p in model.parameters(): p.require_grad = False\n")
    assert _found(text) == []


def test_non_python_kernel_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "r.ipynb"
    path.write_text(notebook("# In[1]:\nlibrary(torch)\nx <- 1\n", {"kernelspec": {"language": "R", "name": "ir"}}))
    result = run([path], SettingsResolver(Overrides(), None))
    assert result.diagnostics == []
    assert any("kernel runs R" in warning for warning in result.warnings)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "invalid JSON"),
    ('{"nbformat": 3, "worksheets": []}', "Unsupported notebook format: nbformat 3"),
    ('{"nbformat": 4, "metadata": {}}', "no `cells` list"),
    ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}', "cell 1: `source` is neither"),
    ("[1, 2]", "not a notebook object"),
])
def test_a_broken_notebook_is_fl001_and_the_run_goes_on(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.ipynb").write_text(text)
    (tmp_path / "train.py").write_text("for p in model.parameters():\n    p.require_grad = False\n")
    found = lint_paths([tmp_path])
    assert [(Path(d.path).name, d.code) for d in found] == [("bad.ipynb", "FL001"), ("train.py", "FL101")]
    assert message in found[0].message


def test_a_syntax_error_is_reported_in_its_cell_and_the_other_cells_are_still_checked() -> None:
    assert _found(notebook("# In[1]:\nimport torch\n# In[2]:\nx = (1,\n")) == [(2, 1, 5, "FL001")]
    found = lint_source(notebook(SCRIPT + "# In[5]:\ndef unfinished(:\n"), "nb.ipynb")
    assert [(d.cell, d.start.row, d.code) for d in found] == [(3, 1, "FL305"), (5, 1, "FL202"), (6, 1, "FL001")]
    assert "the other cells were checked without this one" in found[2].message


def test_directories_find_notebooks_and_one_config_line_excludes_them(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SCRIPT))
    assert {d.cell for d in lint_paths([tmp_path])} == {3, 5}
    (tmp_path / "pyproject.toml").write_text('[tool.featlint]\nextend-exclude = ["*.ipynb"]\n')
    assert lint_paths([tmp_path]) == []


# --- positions in every output ----------------------------------------------------------------------------
def _cli(tmp_path: Path, *args: str) -> str:
    (tmp_path / "nb.ipynb").write_text(notebook(SCRIPT))
    return run_featlint(["check", "--no-cache", "nb.ipynb", *args], cwd=tmp_path).stdout


def test_concise_json_github_and_sarif_positions(tmp_path: Path) -> None:
    concise = _cli(tmp_path)
    assert concise.splitlines()[0].startswith("nb.ipynb:cell 3:1:37: FL305 [*] ")
    rows = json.loads(_cli(tmp_path, "--output-format", "json"))
    assert [(r["cell"], r["location"]["row"], r["code"]) for r in rows] == [(3, 1, "FL305"), (5, 1, "FL202")]
    assert rows[0]["fix"]["edits"][0]["cell"] == 3
    lines = (tmp_path / "nb.ipynb").read_text().splitlines()
    github = _cli(tmp_path, "--output-format", "github").splitlines()[0]
    line, col = (int(v) for v in re.search(r"line=(\d+),col=(\d+)", github).groups())  # type: ignore[union-attr]
    assert lines[line - 1][col - 1:].startswith("pretrained=True")
    assert "title=FL305 deprecated-pretrained (cell 3)" in github
    result = json.loads(_cli(tmp_path, "--output-format", "sarif"))["runs"][0]["results"][1]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert lines[region["startLine"] - 1][region["startColumn"] - 1:].startswith("model.parameters()")
    assert result["properties"] == {"notebookCell": 5, "cellLine": 1, "cellColumn": 29}


def test_full_format_shows_the_cell_line(tmp_path: Path) -> None:
    full = _cli(tmp_path, "--output-format", "full")
    assert "1 | model = torchvision.models.resnet50(pretrained=True)" in full


# --- suppression and configuration ------------------------------------------------------------------------
def test_noqa_in_a_cell_covers_its_line_and_a_file_directive_any_cell_covers_all() -> None:
    text = SCRIPT.replace("(pretrained=True)", "(pretrained=True)  # noqa: FL305")
    assert [f[3] for f in _found(notebook(text))] == ["FL202"]
    text = SCRIPT + "# In[5]:\n# featlint: noqa: FL202\n"
    assert [f[3] for f in _found(notebook(text))] == ["FL305"]


def test_noqa_warnings_name_the_cell(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SCRIPT.replace("(pretrained=True)", "(pretrained=True)  # noqa: FL999")))
    result = run([tmp_path / "nb.ipynb"], SettingsResolver(Overrides(), None))
    assert any(w.endswith("nb.ipynb: cell 3, line 1: unknown rule code FL999 in a noqa comment") for w in result.warnings)


def test_per_file_ignores_match_notebook_globs(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(SCRIPT))
    (tmp_path / "pyproject.toml").write_text('[tool.featlint.per-file-ignores]\n"*.ipynb" = ["FL305"]\n')
    assert [d.code for d in lint_paths([tmp_path])] == ["FL202"]


# --- fixes ------------------------------------------------------------------------------------------------
def _round_trip(tmp_path: Path, text: str, *args: str) -> tuple[str, str]:
    path = tmp_path / "nb.ipynb"
    path.write_text(text, encoding="utf-8")
    done = run_featlint(["check", "--no-cache", "--fix", "nb.ipynb", *args], cwd=tmp_path)
    return path.read_text(encoding="utf-8"), done.stdout


@pytest.mark.parametrize("name", ["finetune_buggy", "colab_buggy", "vscode_buggy"])
def test_fix_changes_only_the_fixed_cells_sources(tmp_path: Path, name: str) -> None:
    before = (NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8")
    after, _ = _round_trip(tmp_path, before)
    assert after != before
    old, new = json.loads(before), json.loads(after)
    changed = [i for i, (a, b) in enumerate(zip(old["cells"], new["cells"])) if a != b]
    assert changed and all(set(old["cells"][i]) == set(new["cells"][i]) for i in changed)
    for i in changed:  # the source changed and kept its form; nothing else in the cell did
        assert {k: v for k, v in old["cells"][i].items() if k != "source"} == {
            k: v for k, v in new["cells"][i].items() if k != "source"}
        assert type(old["cells"][i]["source"]) is type(new["cells"][i]["source"])
    assert {k: v for k, v in old.items() if k != "cells"} == {k: v for k, v in new.items() if k != "cells"}
    # Byte for byte: everything outside the changed `source` values is the text that was there.
    assert _outside_sources(before, changed) == _outside_sources(after, changed)



def _outside_sources(text: str, cells: list[int]) -> list[str]:
    spans = read_notebook(text).source_spans
    pieces, position = [], 0
    for index in cells:
        span = spans[index]
        assert span is not None
        pieces.append(text[position: span.start])
        position = span.end
    return [*pieces, text[position:]]


def test_unchanged_lines_of_a_list_source_keep_their_bytes(tmp_path: Path) -> None:
    before = notebook(SCRIPT).replace('"import torch\\n"', '"import \\u0074orch\\n"')
    after, _ = _round_trip(tmp_path, before)
    assert '"import \\u0074orch\\n"' in after
    assert '"model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)"' in after
    assert len(before.splitlines()) == len(after.splitlines())


def test_a_notebook_with_nothing_to_fix_is_not_rewritten(tmp_path: Path) -> None:
    clean = (NOTEBOOKS / "finetune_clean.ipynb").read_bytes()
    path = tmp_path / "nb.ipynb"
    path.write_bytes(clean)
    mtime = path.stat().st_mtime_ns
    run_featlint(["check", "--no-cache", "--fix", "nb.ipynb"], cwd=tmp_path)
    assert path.read_bytes() == clean and path.stat().st_mtime_ns == mtime


def test_diff_is_per_cell_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(SCRIPT))
    done = run_featlint(["check", "--no-cache", "--diff", "nb.ipynb"], cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("--- nb.ipynb:cell 3\n+++ nb.ipynb:cell 3\n")
    assert "+model = torchvision.models.resnet50(weights=" in done.stdout
    assert path.read_text() == notebook(SCRIPT)


def test_a_line_inserted_after_a_cells_last_statement_stays_in_that_cell(tmp_path: Path) -> None:
    text = notebook(
        "# In[1]:\nfrom torchvision.models import resnet50\n# In[2]:\nmodel = resnet50(pretrained=True)\n"
    )
    after, _ = _round_trip(tmp_path, text)
    cells = [cell["source"] for cell in json.loads(after)["cells"]]
    assert cells == [
        ["from torchvision.models import resnet50\n", "from torchvision.models import ResNet50_Weights"],
        ["model = resnet50(weights=ResNet50_Weights.IMAGENET1K_V1)"],
    ]


# --- the fixtures -----------------------------------------------------------------------------------------
def _expected(path: Path) -> list[tuple[int, int, str]]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = []
    for index, cell in enumerate(cells, start=1):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for row, line in enumerate(source.splitlines(), start=1):
            match = _EXPECT.search(line)
            if match and cell["cell_type"] == "code":
                found.extend((index, row, code) for code in match.group(1).split())
    return sorted(found)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_fixture_findings_are_exactly_the_marked_ones(path: Path) -> None:
    found = sorted((d.cell or 0, d.start.row, d.code) for d in lint_paths([path]))
    assert found == _expected(path)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_fixtures_and_their_fixed_versions_are_valid_nbformat(tmp_path: Path, path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    fixed, _ = _round_trip(tmp_path, path.read_text(encoding="utf-8"))
    nbformat.validate(nbformat.reads(fixed, as_version=4))


def test_every_notebook_fixture_has_a_twin() -> None:
    buggy = {p.name.replace("_buggy", "") for p in NOTEBOOKS.glob("*_buggy.ipynb")}
    clean = {p.name.replace("_clean", "") for p in NOTEBOOKS.glob("*_clean.ipynb")}
    assert buggy == clean and len(buggy) >= 3
    assert all(_expected(NOTEBOOKS / name.replace(".ipynb", "_buggy.ipynb")) for name in buggy)


@pytest.mark.parametrize("text", [
    notebook(SCRIPT), *(path.read_text(encoding="utf-8") for path in sorted(NOTEBOOKS.glob("*.ipynb")))
], ids=["script", *(path.stem for path in sorted(NOTEBOOKS.glob("*.ipynb")))])
def test_findings_equal_those_on_the_pasted_out_code(text: str) -> None:
    """The code cells as a script: the same findings, position for position (rows mapped through the cells);
    only the notebook rules, which need cells, add to them."""
    nb = read_notebook(text)
    script = [(nb.locate(d.start.row, d.start.column), d.code) for d in lint_source(nb.program, "pasted.py")]
    found = [((d.cell, d.start.row, d.start.column), d.code) for d in lint_source(text, "nb.ipynb")]
    assert script == [f for f in found if f[1] not in ("FL002", "FL003")]


# --- everywhere featlint runs -----------------------------------------------------------------------------
def test_workers_and_the_cache_give_the_same_notebook_findings(tmp_path: Path) -> None:
    from featlint.running.cache import Cache

    for index in range(26):  # enough for two workers (parallel.FILES_PER_WORKER)
        (tmp_path / f"nb{index:02d}.ipynb").write_text(notebook(SCRIPT))
    resolver = SettingsResolver(Overrides(), None)
    plain = run([tmp_path], resolver).diagnostics
    cache = Cache(tmp_path / "cache")
    parallel = run([tmp_path], resolver, jobs=2, cache=cache).diagnostics
    warm = run([tmp_path], resolver, jobs=2, cache=cache)
    assert len(plain) == 52 and {d.cell for d in plain} == {3, 5}
    assert parallel == plain == warm.diagnostics
    assert all(f.source is not None and f.source.startswith("{") for f in warm.files)


def test_a_fix_that_would_break_the_notebook_is_dropped_and_the_others_apply() -> None:
    from featlint.diagnostics import Applicability, Diagnostic, Edit, Fix, Location, Severity
    from featlint.fixes import fix_text
    from featlint.running.results import FileResult

    def finding(cell: int, content: str, end: int) -> Diagnostic:
        fix = Fix("fix it", (Edit(content, Location(1, 1), Location(1, end), cell),), Applicability.SAFE)
        return Diagnostic("FL990", "demo", Severity.ERROR, "m", "nb.ipynb", Location(1, 1), Location(1, 2), fix, cell)

    text = notebook("# In[1]:\nx = 1\n# In[2]:\ny = 2\n")
    broken, good = finding(1, "x = (", 6), finding(2, "z", 2)
    outcome = fix_text(FileResult("nb.ipynb", [broken, good], source=text), [])
    assert outcome.fixed == 1 and "would leave code that does not parse" in outcome.warnings[0]
    assert [cell["source"] for cell in json.loads(outcome.after)["cells"]] == [["x = 1"], ["z = 2"]]
