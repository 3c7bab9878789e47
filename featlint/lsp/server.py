"""`featlint server`: diagnostics, quick fixes and noqa suppressions in any LSP editor, over stdio.

Documents are linted on open and save at once, and on change after a short quiet period (typing fast
lints once). Each document is linted with the configuration of its own project (its nearest pyproject.toml,
read afresh each time, so editing the configuration takes effect on the next lint). Nothing a document or a
rule does stops the server: a document that does not parse shows FL001, a rule that fails is logged.

stdout is the JSON-RPC channel: nothing here may print.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from featlint.version import __version__
from featlint.config import ConfigError, Overrides, SettingsResolver, build_settings
from featlint.diagnostics import Applicability, Diagnostic, Severity
from featlint.reading.discovery import PathFilter
from featlint.running.engine import check_text
from featlint.running.results import FileResult
from featlint.lsp import DEFAULT_DEBOUNCE_MS
from featlint.fixes import apply_fixes, apply_notebook_fixes, fix_text, is_applicable
from featlint.lsp import notebooks
from featlint.lsp.noqa import add_noqa
from featlint.lsp.positions import Lines, text_edit
from featlint.rules.base import Rule
from featlint.rules.fl001_unreadable_file import UnreadableFile

SOURCE = "featlint"
FIX_ALL = f"{types.CodeActionKind.SourceFixAll.value}.featlint"
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


@dataclasses.dataclass
class Linted:
    """One lint of one version of a document, kept for the code actions asked about it."""

    version: int | None
    source: str
    rules: Sequence[Rule]
    findings: list[Diagnostic]
    diagnostics: list[types.Diagnostic]  # findings[i] as the client sees it
    # The project's other modules the lint read (absolute paths): saving one of them re-lints this document.
    depends: frozenset[str] = frozenset()


class FeatlintServer(LanguageServer):
    def __init__(self, debounce_ms: int = DEFAULT_DEBOUNCE_MS) -> None:
        # Full sync: pygls applies incremental changes with str.splitlines, which also breaks lines at form
        # feeds and U+2028 and so would corrupt such documents; whole texts of scripts are cheap to send.
        super().__init__(
            "featlint", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full,
            notebook_document_sync=notebooks.SYNC,
        )
        self.debounce = debounce_ms / 1000
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.linted: dict[str, Linted] = {}
        self.python_uris: set[str] = set()
        self.notebooks: dict[str, notebooks.LintedNotebook] = {}  # by notebook uri; cells are published apart
        self.config_errors: set[str] = set()

    # --- linting ---------------------------------------------------------------------------------------------

    def _rules(self, path: Path | None) -> tuple[Sequence[Rule], tuple[Path, ...]] | None:
        """The rules the document's project selects and its `src` roots; None when its configuration excludes
        the file."""
        root = Path(self.workspace.root_path) if self.workspace.root_path else Path.cwd()
        if path is None:
            return build_settings({}, None, root, Overrides()).rules_for(root / "untitled.py"), ()
        cwd = root if root in path.parents else path.parent
        try:
            settings = SettingsResolver(Overrides(), cwd=cwd).for_file(path)
        except ConfigError as error:
            self._show_once(f"featlint: {error}; linting with the default rules", types.MessageType.Error)
            return build_settings({}, None, cwd, Overrides()).rules_for(path), ()
        if PathFilter(settings.root, settings.exclude).excludes_with_parents(path):
            return None
        return settings.rules_for(path), settings.src

    def _check(
        self, uri: str, source: str, path: Path | None, rules: Sequence[Rule], src: tuple[Path, ...]
    ) -> FileResult:
        result = check_text(source, str(path) if path else uri, rules, src=src)
        for error in result.errors:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=str(error)))
        return result

    def lint(self, document: TextDocument) -> Linted:
        source = document.source
        path = Path(document.path) if document.uri.startswith("file:") and document.path else None
        chosen = self._rules(path)
        if chosen is None:
            return Linted(document.version, source, (), [], [])
        rules, src = chosen
        result = self._check(document.uri, source, path, rules, src)
        lines = Lines(source, document.position_codec)
        diagnostics = [_to_lsp(finding, lines) for finding in result.diagnostics]
        return Linted(document.version, source, rules, result.diagnostics, diagnostics, frozenset(result.depends))

    def lint_notebook(self, uri: str) -> notebooks.LintedNotebook | None:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is None:
            return None
        fs_path = to_fs_path(uri) if uri.startswith("file:") else None
        path = Path(fs_path) if fs_path and fs_path.endswith(".ipynb") else None
        text = notebooks.as_json(notebook, self.workspace.get_text_document)
        cell_uris = [cell.document for cell in notebook.cells]
        chosen = self._rules(path)
        if chosen is None:
            return notebooks.LintedNotebook(notebook.version, uri, text, cell_uris, (), [], [])
        rules, src = chosen
        result = self._check(uri, text, path, rules, src)
        diagnostics = []
        for finding in result.diagnostics:
            cell = self.workspace.get_text_document(cell_uris[(finding.cell or 1) - 1])
            diagnostics.append(_to_lsp(finding, Lines(cell.source, cell.position_codec)))
        display = str(path) if path else "untitled.ipynb"
        return notebooks.LintedNotebook(notebook.version, display, text, cell_uris, rules, result.diagnostics, diagnostics)

    def publish_notebook(self, uri: str) -> None:
        """Lint the notebook and send each of its cells its diagnostics (none: cleared); never raises."""
        before = self.notebooks.get(uri)
        try:
            linted = self.lint_notebook(uri)
        except Exception as error:  # noqa: BLE001
            self._show_once(f"featlint failed on {uri}: {type(error).__name__}: {error}", types.MessageType.Error)
            return
        if linted is None:
            return
        self.notebooks[uri] = linted
        by_cell: dict[str, list[types.Diagnostic]] = {cell: [] for cell in before.cell_uris} if before else {}
        by_cell.update({cell: [] for cell in linted.cell_uris})
        for finding, diagnostic in zip(linted.findings, linted.diagnostics):
            by_cell[linted.cell_uris[(finding.cell or 1) - 1]].append(diagnostic)
        for cell, found in by_cell.items():
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell, diagnostics=found))

    def publish(self, uri: str) -> None:
        """Lint the document as it is now and send the diagnostics; never raises."""
        self._cancel(uri)
        if uri in self.notebooks:
            self.publish_notebook(uri)
            return
        try:
            document = self.workspace.get_text_document(uri)
            linted = self.linted[uri] = self.lint(document)
        except Exception as error:  # noqa: BLE001 - one bad document must not take the editor's linter down
            self._show_once(f"featlint failed on {uri}: {type(error).__name__}: {error}", types.MessageType.Error)
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, version=linted.version, diagnostics=linted.diagnostics)
        )

    def schedule(self, uri: str) -> None:
        """Lint after `debounce` seconds without a further change."""
        self._cancel(uri)
        self.pending[uri] = asyncio.get_running_loop().create_task(self._lint_later(uri))

    async def _lint_later(self, uri: str) -> None:
        await asyncio.sleep(self.debounce)
        self.pending.pop(uri, None)
        self.publish(uri)

    def _cancel(self, uri: str) -> None:
        task = self.pending.pop(uri, None)  # a task that is running has already removed itself
        if task is not None:
            task.cancel()

    def importers_of(self, path: str) -> list[str]:
        """The open scripts whose last lint read the project module at `path`, or looked for it in vain (it was
        just saved, or created)."""
        return sorted(uri for uri, linted in self.linted.items() if path in linted.depends and uri in self.python_uris)

    def current(self, uri: str) -> Linted:
        """The lint of the document's current text (code actions may arrive before a debounced lint)."""
        document = self.workspace.get_text_document(uri)
        linted = self.linted.get(uri)
        if linted is None or linted.version != document.version or linted.source != document.source:
            linted = self.linted[uri] = self.lint(document)
        return linted

    def _show_once(self, message: str, kind: types.MessageType) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))
        if message not in self.config_errors:
            self.config_errors.add(message)
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    # --- code actions ----------------------------------------------------------------------------------------

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        if notebook is not None and notebook.uri in self.notebooks:
            return self._cell_actions(self.notebooks[notebook.uri], uri, params)
        if uri not in self.python_uris:
            return []
        linted = self.current(uri)
        codec = self.workspace.get_text_document(uri).position_codec
        findings = list(zip(linted.findings, linted.diagnostics))
        return _actions(
            params, uri, linted.source, findings,
            fix=lambda chosen: {uri: _edits(linted.source, apply_fixes(linted.source, chosen, unsafe=True)[0], codec)},
            fix_all=lambda: {uri: _edits(linted.source, fix_text(
                FileResult(uri, list(linted.findings), source=linted.source), linted.rules).after, codec)},
            codec=codec,
        )

    def _cell_actions(
        self, linted: notebooks.LintedNotebook, uri: str, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        """Quick fixes for one cell's findings; a fix that edits other cells too carries their edits."""
        cell = linted.cell_of(uri)
        if cell is None:
            return []
        codec = self.workspace.get_text_document(uri).position_codec
        findings = [(f, d) for f, d in zip(linted.findings, linted.diagnostics) if f.cell == cell]
        return _actions(
            params, uri, linted.source(cell), findings,
            fix=lambda chosen: notebooks.cell_changes(
                linted, apply_notebook_fixes(linted.text, chosen, unsafe=True)[0], codec),
            fix_all=lambda: notebooks.cell_changes(linted, fix_text(
                FileResult(linted.path, list(linted.findings), source=linted.text), linted.rules).after, codec),
            codec=codec,
        )


Changes = dict[str, list[types.TextEdit]]


def _edits(before: str, after: str, codec: PositionCodec) -> list[types.TextEdit]:
    edit = text_edit(before, after, codec)
    return [edit] if edit is not None else []


def _actions(
    params: types.CodeActionParams, uri: str, source: str, findings: Sequence[tuple[Diagnostic, types.Diagnostic]],
    *, fix: Callable[[list[Diagnostic]], Changes], fix_all: Callable[[], Changes], codec: PositionCodec,
) -> list[types.CodeAction]:
    """The quick fixes and noqa suppressions of the findings asked about in `uri` (whose text is `source`),
    and "fix all"; `fix` and `fix_all` say which edits of which documents a fix makes."""
    asked = [d for d in params.context.diagnostics if d.source == SOURCE]
    only = params.context.only
    actions: list[types.CodeAction] = []
    for finding, diagnostic in findings:
        if asked:
            if not any(d.code == diagnostic.code and d.range == diagnostic.range for d in asked):
                continue
        elif not _overlaps(diagnostic.range, params.range):
            continue
        if not _wanted(types.CodeActionKind.QuickFix, only):
            continue
        if finding.fix is not None and is_applicable(finding, unsafe=True):
            unsafe = finding.fix.applicability is Applicability.UNSAFE
            title = f"featlint: {finding.fix.message or 'fix ' + finding.code}" + (" (unsafe)" if unsafe else "")
            actions.append(_action(title, types.CodeActionKind.QuickFix, fix([finding]), diagnostic, preferred=not unsafe))
        if finding.code != UnreadableFile.code:
            after = add_noqa(source, finding)
            if after is not None:
                actions.append(_action(f"featlint: suppress {finding.code} with `# noqa`",
                                       types.CodeActionKind.QuickFix, {uri: _edits(source, after, codec)}, diagnostic))
    if _wanted(FIX_ALL, only) and any(is_applicable(f, unsafe=False) for f, _ in findings):
        actions.append(_action("featlint: fix all safe fixes", FIX_ALL, fix_all()))
    return [action for action in actions if action.edit is not None]


def _to_lsp(finding: Diagnostic, lines: Lines) -> types.Diagnostic:
    return types.Diagnostic(
        range=lines.range(finding.start, finding.end),
        message=finding.message,
        severity=_SEVERITY[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=finding.url),
        source=SOURCE,
    )


def _overlaps(a: types.Range, b: types.Range) -> bool:
    def key(position: types.Position) -> tuple[int, int]:
        return position.line, position.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    return not only or any(kind == wanted or kind.startswith(f"{wanted}.") for wanted in only)


def _action(
    title: str, kind: str, changes: Changes, diagnostic: types.Diagnostic | None = None, *, preferred: bool = False,
) -> types.CodeAction:
    changes = {uri: edits for uri, edits in changes.items() if edits}
    return types.CodeAction(
        title=title,
        kind=kind,
        diagnostics=[diagnostic] if diagnostic is not None else None,
        is_preferred=preferred or None,
        edit=types.WorkspaceEdit(changes=changes) if changes else None,
    )


def _is_python(uri: str, language_id: str | None) -> bool:
    return language_id == "python" or uri.endswith((".py", ".pyi"))


def create_server(debounce_ms: int = DEFAULT_DEBOUNCE_MS) -> FeatlintServer:
    server = FeatlintServer(debounce_ms)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FeatlintServer, params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        if _is_python(document.uri, document.language_id):
            ls.python_uris.add(document.uri)
            ls.publish(document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: FeatlintServer, params: types.DidChangeTextDocumentParams) -> None:
        if params.text_document.uri in ls.python_uris:
            ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FeatlintServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri.endswith("/pyproject.toml"):  # the configuration changed: every open script may lint differently
            for open_uri in sorted(ls.python_uris | set(ls.notebooks)):
                ls.publish(open_uri)
        else:
            if uri in ls.python_uris:
                ls.publish(uri)
            saved = ls.workspace.get_text_document(uri).path
            for open_uri in ls.importers_of(str(Path(saved).resolve())) if saved else ():
                ls.publish(open_uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FeatlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls._cancel(uri)
        ls.linted.pop(uri, None)
        if uri in ls.python_uris:
            ls.python_uris.discard(uri)
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_open(ls: FeatlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.publish_notebook(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    async def notebook_change(ls: FeatlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        if params.notebook_document.uri in ls.notebooks:
            ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: FeatlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.publish(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: FeatlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        ls._cancel(uri)
        linted = ls.notebooks.pop(uri, None)
        for cell in linted.cell_uris if linted is not None else []:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=cell, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False),
    )
    def code_action(ls: FeatlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        try:
            return ls.code_actions(params)
        except Exception as error:  # noqa: BLE001
            ls._show_once(f"featlint: code actions failed: {type(error).__name__}: {error}", types.MessageType.Error)
            return []

    return server


def serve(debounce_ms: int = DEFAULT_DEBOUNCE_MS) -> None:
    create_server(debounce_ms).start_io()
