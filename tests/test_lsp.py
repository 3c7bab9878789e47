"""`featlint server` end to end: the real server in a child process, a real LSP client (pytest-lsp) on stdio.

Each test opens documents in a fresh project directory, waits for the diagnostics the server pushes, asks
for code actions, applies their edits the way an editor does, and checks what comes back.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

from tests.conftest import REPO  # noqa: E402

PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "featlint", "server", "--debounce-ms", "100"],
    server_env={**os.environ, "PYTHONPATH": str(REPO)},
)
BUGGY = (
    "import torchvision\n"
    "model = torchvision.models.resnet18(pretrained=True)  # keep me\n"
    "for p in model.parameters():\n"
    "    p.require_grad = False\n"
)
FIXED = (
    "import torchvision\n"
    "model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)  # keep me\n"
    "for p in model.parameters():\n"
    "    p.requires_grad = False\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"), root_uri=project.as_uri()
        )
    )
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str) -> list[types.Diagnostic]:
    path.write_text(text)
    published = client.wait_for_notification(PUBLISH)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="python", version=1, text=text)
    ))
    await published
    return list(client.diagnostics[path.as_uri()])


async def _change(client: LanguageClient, uri: str, version: int, text: str) -> types.PublishDiagnosticsParams:
    published = client.wait_for_notification(PUBLISH)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
    ))
    return await published


async def _actions(client: LanguageClient, uri: str, diagnostic: types.Diagnostic | None = None,
                   only: list[str] | None = None) -> list[types.CodeAction]:
    whole = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=10_000, character=0))
    found = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=diagnostic.range if diagnostic else whole,
        context=types.CodeActionContext(diagnostics=[diagnostic] if diagnostic else [], only=only),
    ))
    return list(found or [])


def _offset(text: str, position: types.Position) -> int:
    """An LSP position (UTF-16 code units) as an index into `text`, as an editor computes it."""
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    units = 0
    for index, char in enumerate(line):
        if units >= position.character:
            return start + index
        units += 2 if ord(char) > 0xFFFF else 1
    return start + len(line.rstrip("\n"))


def _apply(text: str, action: types.CodeAction, uri: str) -> str:
    assert action.edit is not None and action.edit.changes is not None
    for edit in sorted(action.edit.changes[uri], key=lambda e: (e.range.start.line, e.range.start.character),
                       reverse=True):
        text = text[: _offset(text, edit.range.start)] + edit.new_text + text[_offset(text, edit.range.end):]
    return text


async def test_open_publishes_code_severity_source_and_documentation_link(client: LanguageClient, project: Path):
    diagnostics = await _open(client, project / "train.py", BUGGY)
    assert [(d.code, d.range.start.line, d.range.start.character) for d in diagnostics] == [
        ("FL305", 1, 36), ("FL101", 3, 4),
    ]
    typo = diagnostics[1]
    assert typo.range.end == types.Position(line=3, character=18)
    assert typo.severity == types.DiagnosticSeverity.Error and diagnostics[0].severity == types.DiagnosticSeverity.Warning
    assert typo.source == "featlint" and "freezes nothing" in typo.message
    assert typo.code_description is not None and typo.code_description.href.endswith("docs/rules.md#fl101")


async def test_quick_fixes_applied_one_by_one_leave_a_clean_document(client: LanguageClient, project: Path):
    uri, text = (project / "train.py").as_uri(), BUGGY
    diagnostics = await _open(client, project / "train.py", text)
    version = 1
    while diagnostics:
        actions = await _actions(client, uri, diagnostics[0])
        fixes = [a for a in actions if a.kind == types.CodeActionKind.QuickFix and a.is_preferred]
        assert len(fixes) == 1 and list(fixes[0].diagnostics or []) == [diagnostics[0]], actions
        text = _apply(text, fixes[0], uri)
        version += 1
        published = await _change(client, uri, version, text)
        assert published.version == version
        diagnostics = list(published.diagnostics)
    assert text == FIXED


async def test_fix_all_action_fixes_every_safe_finding(client: LanguageClient, project: Path):
    uri = (project / "train.py").as_uri()
    await _open(client, project / "train.py", BUGGY)
    actions = await _actions(client, uri, only=[types.CodeActionKind.SourceFixAll])
    assert [a.kind for a in actions] == ["source.fixAll.featlint"]
    assert _apply(BUGGY, actions[0], uri) == FIXED
    published = await _change(client, uri, 2, FIXED)
    assert list(published.diagnostics) == []


async def test_noqa_action_suppresses_the_finding(client: LanguageClient, project: Path):
    uri = (project / "train.py").as_uri()
    diagnostics = await _open(client, project / "train.py", BUGGY)
    actions = await _actions(client, uri, diagnostics[0])
    noqa = [a for a in actions if "noqa" in a.title]
    assert [a.title for a in noqa] == ["featlint: suppress FL305 with `# noqa`"]
    text = _apply(BUGGY, noqa[0], uri)
    assert text.splitlines()[1].endswith("  # keep me  # noqa: FL305")
    published = await _change(client, uri, 2, text)
    assert [d.code for d in published.diagnostics] == ["FL101"]


async def test_columns_are_utf16_code_units_and_fixes_land_right(client: LanguageClient, project: Path):
    uri, text = (project / "emoji.py").as_uri(), 's = "😀é"; p.require_grad = False\n'
    diagnostics = await _open(client, project / "emoji.py", text)
    # `p.require_grad` is code points 10-24; the emoji before it takes two UTF-16 units.
    assert [(d.code, d.range.start.character, d.range.end.character) for d in diagnostics] == [("FL101", 11, 25)]
    [fix] = [a for a in await _actions(client, uri, diagnostics[0]) if a.is_preferred]
    assert _apply(text, fix, uri) == 's = "😀é"; p.requires_grad = False\n'


async def test_syntax_error_is_fl001_and_the_server_keeps_serving(client: LanguageClient, project: Path):
    uri = (project / "broken.py").as_uri()
    diagnostics = await _open(client, project / "broken.py", "model = (\n")
    assert [d.code for d in diagnostics] == ["FL001"]
    assert await _actions(client, uri, diagnostics[0]) == []
    published = await _change(client, uri, 2, "p.require_grad = False\n")
    assert [d.code for d in published.diagnostics] == ["FL101"]


async def test_rapid_changes_are_linted_once_at_the_last_version(client: LanguageClient, project: Path):
    uri = (project / "train.py").as_uri()
    await _open(client, project / "train.py", BUGGY)
    published = client.wait_for_notification(PUBLISH)
    for version in range(2, 7):  # typing: five changes well inside one debounce period
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=BUGGY + "x = 1\n" * version)],
        ))
    assert (await published).version == 6


async def test_close_clears_the_diagnostics(client: LanguageClient, project: Path):
    uri = (project / "train.py").as_uri()
    assert await _open(client, project / "train.py", BUGGY)
    published = client.wait_for_notification(PUBLISH)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    params = await published
    assert params.uri == uri and list(params.diagnostics) == []


async def test_the_documents_own_project_configuration_applies(client: LanguageClient, project: Path):
    sub = project / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[tool.featlint]\nignore = ["FL305"]\nextend-exclude = ["generated"]\n')
    assert [d.code for d in await _open(client, sub / "train.py", BUGGY)] == ["FL101"]
    assert [d.code for d in await _open(client, project / "other.py", BUGGY)] == ["FL305", "FL101"]
    (sub / "generated").mkdir()
    assert await _open(client, sub / "generated" / "out.py", BUGGY) == []


async def test_a_broken_configuration_is_shown_and_the_defaults_apply(client: LanguageClient, project: Path):
    (project / "pyproject.toml").write_text('[tool.featlint]\nselect = ["FL999"]\n')
    assert [d.code for d in await _open(client, project / "train.py", BUGGY)] == ["FL305", "FL101"]
    assert any("FL999" in m.message and "pyproject.toml" in m.message for m in client.messages)


async def test_saving_the_configuration_relints_open_documents(client: LanguageClient, project: Path):
    uri = (project / "train.py").as_uri()
    assert [d.code for d in await _open(client, project / "train.py", BUGGY)] == ["FL305", "FL101"]
    config = project / "pyproject.toml"
    config.write_text('[tool.featlint]\nignore = ["FL101"]\n')
    published = client.wait_for_notification(PUBLISH)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=config.as_uri())
    ))
    params = await published
    assert params.uri == uri and [d.code for d in params.diagnostics] == ["FL305"]


async def test_saving_an_imported_module_relints_the_scripts_that_read_it(client: LanguageClient, project: Path):
    helper = project / "helpers.py"
    helper.write_text("def freeze(model):\n    model.requires_grad_(True)\n")
    script = (
        "import torch\nfrom torchvision import models\nfrom helpers import freeze\n"
        "model = models.resnet18(weights='DEFAULT')\nfreeze(model)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=1e-3)\n"
    )
    uri = (project / "train.py").as_uri()
    assert "FL203" not in [d.code for d in await _open(client, project / "train.py", script)]
    helper.write_text("def freeze(model):\n    model.requires_grad_(False)\n")
    published = client.wait_for_notification(PUBLISH)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=helper.as_uri())
    ))
    params = await published
    assert params.uri == uri and "FL203" in [d.code for d in params.diagnostics]


# A server whose FL101 crashes on every file: the other rules' findings must still arrive.
CRASHING = ClientServerConfig(
    server_command=[sys.executable, "-c", (
        "from featlint.rules.fl101_requires_grad_typo import RequiresGradTypo\n"
        "def crash(self, ctx):\n    raise RuntimeError('boom')\n"
        "RequiresGradTypo.check = crash\n"
        "from featlint.lsp.server import serve\nserve(0)\n"
    )],
    server_env=SERVER.server_env,
)


@pytest_lsp.fixture(config=CRASHING)
async def crashing_client(lsp_client: LanguageClient, project: Path):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                               root_uri=project.as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_a_failing_rule_is_logged_and_the_server_keeps_serving(crashing_client: LanguageClient, project: Path):
    client = crashing_client
    assert [d.code for d in await _open(client, project / "train.py", BUGGY)] == ["FL305"]
    assert any("FL101" in m.message and "boom" in m.message for m in client.log_messages)
    published = await _change(client, (project / "train.py").as_uri(), 2, "x = (\n")
    assert [d.code for d in published.diagnostics] == ["FL001"]

# --- the pieces under the code actions, without a server ----------------------------------------------------


@pytest.mark.parametrize(("line", "expected"), [
    ("p.require_grad = False\n", "p.require_grad = False  # noqa: FL101\n"),
    ("p.require_grad = False   # why\n", "p.require_grad = False   # why  # noqa: FL101\n"),
    ("p.require_grad = False  # noqa: E501\n", "p.require_grad = False  # noqa: E501, FL101\n"),
    ("p.require_grad = False  # noqa:\n", "p.require_grad = False  # noqa: FL101\n"),
    ("p.require_grad = (\n    False\n)\r\n", "p.require_grad = (\n    False\n)  # noqa: FL101\r\n"),
])
def test_add_noqa_extends_or_appends_on_the_statements_last_line(line: str, expected: str) -> None:
    from featlint.running.engine import lint_source
    from featlint.lsp.noqa import add_noqa

    [finding] = lint_source(line, select=["FL101"])
    assert add_noqa(line, finding) == expected
    assert lint_source(expected, select=["FL101"]) == []


@pytest.mark.parametrize(("before", "after", "edit"), [
    ("ab\r\ncd\r\n", "ab\r\nxcd\r\n", ((1, 0), (1, 0), "x")),
    ("ab\r\ncd\r\n", "ab\r\n\r\ncd\r\n", ((1, 0), (1, 0), "\r\n")),  # never between \r and \n
    ("x = 1", "x = 1\nimport os\n", ((0, 5), (0, 5), "\nimport os\n")),
    ("é😀 = 1\n", "é😀 = 2\n", ((0, 6), (0, 7), "2")),
])
def test_text_edit_is_the_span_between_common_prefix_and_suffix(before: str, after: str, edit: tuple) -> None:
    from pygls.workspace.position_codec import PositionCodec

    from featlint.lsp.positions import text_edit

    found = text_edit(before, after, PositionCodec())
    assert found is not None
    start, end = found.range.start, found.range.end
    assert ((start.line, start.character), (end.line, end.character), found.new_text) == edit


def test_server_without_the_extra_says_how_to_install_it_and_exits_2() -> None:
    import subprocess

    # sys.modules[name] = None makes the import system report the package as not installed.
    code = "import sys; sys.modules['pygls'] = None; from featlint.cli import main; main(['server'])"
    done = subprocess.run([sys.executable, "-c", code], env=SERVER.server_env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert "pip install 'featlint[lsp]'" in done.stderr


# --- notebooks (LSP 3.17 notebook document sync) ----------------------------------------------------------
NOTEBOOK_CELLS = [
    (types.NotebookCellKind.Markup, "# Fine-tuning", None),
    (types.NotebookCellKind.Code,
     "!pip install timm\nimport torch, torchvision\nmodel = torchvision.models.resnet18(pretrained=True)", 1),
    (types.NotebookCellKind.Code,
     "for p in model.parameters():\n    p.require_grad = False\nmodel.fc = torch.nn.Linear(512, 2)", 3),
    (types.NotebookCellKind.Code, "optimizer = torch.optim.SGD(model.parameters(), lr=0.001)", 2),
]


async def _open_notebook(client: LanguageClient, project: Path) -> tuple[str, list[str]]:
    import asyncio

    uri = (project / "nb.ipynb").as_uri()
    cell_uris = [f"vscode-notebook-cell:{project / 'nb.ipynb'}#cell{i}" for i in range(len(NOTEBOOK_CELLS))]
    client.notebook_document_did_open(types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(uri=uri, notebook_type="jupyter-notebook", version=1, cells=[
            types.NotebookCell(kind=kind, document=cell, execution_summary=(
                types.ExecutionSummary(execution_order=order) if order else None))
            for cell, (kind, _, order) in zip(cell_uris, NOTEBOOK_CELLS)
        ]),
        cell_text_documents=[
            types.TextDocumentItem(uri=cell, language_id="python" if kind == types.NotebookCellKind.Code else "markdown",
                                   version=1, text=text)
            for cell, (kind, text, _) in zip(cell_uris, NOTEBOOK_CELLS)
        ],
    ))
    for _ in range(200):
        if all(cell in client.diagnostics for cell in cell_uris):
            break
        await asyncio.sleep(0.05)
    return uri, cell_uris


async def test_notebook_cells_get_their_own_diagnostics_and_quick_fixes(client: LanguageClient, project: Path):
    _, cells = await _open_notebook(client, project)
    assert not client.diagnostics[cells[0]]
    (deprecated,) = client.diagnostics[cells[1]]
    (typo,) = client.diagnostics[cells[2]]
    assert typo.code == "FL101" and typo.range.start == types.Position(line=1, character=4)
    (out_of_order,) = client.diagnostics[cells[3]]  # the execution order (1, 3, 2) the client reports
    assert out_of_order.code == "FL002" and "before cell 3 replaced `model.fc`" in out_of_order.message
    fix = next(a for a in await _actions(client, cells[2], typo) if a.is_preferred)
    assert _apply(NOTEBOOK_CELLS[2][1], fix, cells[2]).startswith("for p in model.parameters():\n    p.requires_grad")
    fix = next(a for a in await _actions(client, cells[1], deprecated) if a.is_preferred)
    assert "resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)" in _apply(NOTEBOOK_CELLS[1][1], fix, cells[1])
    fix_all = await _actions(client, cells[1], only=[types.CodeActionKind.SourceFixAll])
    assert fix_all and set(fix_all[0].edit.changes) == {cells[1], cells[2]}  # type: ignore[union-attr]


async def test_closing_a_notebook_clears_its_cells(client: LanguageClient, project: Path):
    uri, cells = await _open_notebook(client, project)
    assert client.diagnostics[cells[2]]
    client.notebook_document_did_close(types.DidCloseNotebookDocumentParams(
        notebook_document=types.NotebookDocumentIdentifier(uri=uri),
        cell_text_documents=[types.TextDocumentIdentifier(uri=cell) for cell in cells],
    ))
    import asyncio

    for _ in range(100):
        if not client.diagnostics[cells[2]]:
            break
        await asyncio.sleep(0.05)
    assert not client.diagnostics[cells[2]]


async def test_editing_a_cell_relints_the_notebook(client: LanguageClient, project: Path):
    import asyncio

    uri, cells = await _open_notebook(client, project)
    assert client.diagnostics[cells[2]]
    fixed = NOTEBOOK_CELLS[2][1].replace("require_grad", "requires_grad")
    client.notebook_document_did_change(types.DidChangeNotebookDocumentParams(
        notebook_document=types.VersionedNotebookDocumentIdentifier(uri=uri, version=2),
        change=types.NotebookDocumentChangeEvent(cells=types.NotebookDocumentCellChanges(text_content=[
            types.NotebookDocumentCellContentChanges(
                document=types.VersionedTextDocumentIdentifier(uri=cells[2], version=2),
                changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
            )
        ])),
    ))
    for _ in range(100):
        if not client.diagnostics[cells[2]]:
            break
        await asyncio.sleep(0.05)
    assert not client.diagnostics[cells[2]]
    assert sorted(d.code for d in client.diagnostics[cells[3]]) == ["FL002", "FL202"]  # the freeze now works
