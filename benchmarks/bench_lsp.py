"""Latency of `featlint server`: from sending a didChange to receiving its publishDiagnostics, on a 300-line
training script, measured through a real LSP client (pygls) talking to the server process over stdio.

Run: python benchmarks/bench_lsp.py [--changes N] [--warmup N] [--debounce-ms MS ...]
For each debounce setting (the server's default, and 0, which shows the server's own latency) it prints the
median, 90th percentile and maximum after warm-up, then the same document linted in this process
(`check_text` alone), which separates the engine's cost from the server's. Target: under 150 ms with
debounce 0 (the debounce is a deliberate wait for the user to stop typing, added on top).
Speed targets live here, never in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cli import training_script  # noqa: E402

from featlint.config import Overrides, build_settings  # noqa: E402
from featlint.running.engine import check_text  # noqa: E402
from featlint.lsp import DEFAULT_DEBOUNCE_MS  # noqa: E402

# A few findings, so positions, messages and fixes are computed as they are while someone edits a buggy script.
BUGS = (
    "model = models.resnet50(pretrained=True)\n"
    "for param in model.parameters():\n"
    "    param.require_grad = False\n"
    "model.layer4.requires_grad = True\n"
)


def document(edit: int) -> str:
    """The 300-line script with the bugs in it and one line that changes with every edit (a keystroke)."""
    lines = training_script(300 - BUGS.count("\n") - 1).splitlines(keepends=True)
    return "".join([*lines[:10], BUGS, f"EDIT = {edit}\n", *lines[10:]])


async def measure(debounce_ms: int, warmup: int, changes: int) -> list[float]:
    client = LanguageClient("featlint-bench", "1")
    published: dict[int, asyncio.Future[float]] = {}

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: types.PublishDiagnosticsParams) -> None:
        future = published.get(params.version or 0)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    await client.start_io(sys.executable, "-m", "featlint", "server", "--debounce-ms", str(debounce_ms))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "train.py"
        path.write_text(document(0))
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=Path(scratch).as_uri()
        ))
        client.initialized(types.InitializedParams())
        uri = path.as_uri()
        loop = asyncio.get_running_loop()
        published[1] = loop.create_future()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=document(0))
        ))
        await published[1]
        latencies = []
        for version in range(2, 2 + warmup + changes):
            published[version] = loop.create_future()
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=document(version))],
            ))
            latencies.append(await asyncio.wait_for(published[version], timeout=30) - start)
        await client.shutdown_async(None)
        client.exit(None)
    await client.stop()
    return latencies[warmup:]


def in_process(warmup: int, changes: int) -> tuple[list[float], list[float]]:
    """Wall and CPU time of the lint alone; on a busy machine the CPU time is the steadier figure."""
    rules = build_settings({}, None, Path.cwd(), Overrides()).rules_for(Path("train.py"))
    wall, cpu = [], []
    for edit in range(warmup + changes):
        text = document(edit)
        start, start_cpu = time.perf_counter(), time.process_time()
        check_text(text, "train.py", rules)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall[warmup:], cpu[warmup:]


def report(what: str, latencies: list[float], warmup: int) -> None:
    latencies = sorted(latencies)
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
    print(
        f"{what}: median {statistics.median(latencies) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms over {len(latencies)} changes (after {warmup} warm-up)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--debounce-ms", type=int, nargs="+", default=[DEFAULT_DEBOUNCE_MS, 0])
    options = parser.parse_args()
    assert document(0).count("\n") == 300
    for debounce in options.debounce_ms:
        latencies = asyncio.run(measure(debounce, options.warmup, options.changes))
        report(f"didChange -> publishDiagnostics, 300-line script, debounce {debounce} ms", latencies, options.warmup)
    wall, cpu = in_process(options.warmup, options.changes)
    report("check_text in process, same document, wall time", wall, options.warmup)
    report("check_text in process, same document, CPU time", cpu, options.warmup)


if __name__ == "__main__":
    main()
