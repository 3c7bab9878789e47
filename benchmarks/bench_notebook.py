"""A notebook against the same code as a script: a 200-cell fine-tuning notebook (code cells with outputs,
markdown between them, execution counts) linted in this process, and its code cells pasted into one `.py`.

Reading a notebook adds the JSON, the IPython check of each cell and the move of findings into cells; the
parse and the analysis are the script's. Target: the notebook within 1.3x the script's time.

Run: python benchmarks/bench_notebook.py [--runs N] [--cells N]
Prints the median of N runs of each (alternating, after one warm-up run of each) and their ratio.
Speed targets live here, never in tests.

With `--corpus DIR` (e.g. benchmarks/realworld/files after populate.py) it compares instead, for every
notebook under DIR, the findings on the notebook with those on its code pasted into a `.py` the way a person
would (code cells in order, IPython lines and `%%` cells commented out, nothing else changed), position for
position: (cell, row, column) against the pasted file's row mapped back by counting the cells' lines.
FL002 and FL003 need cells and are left out of the comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featlint.config import Overrides, build_settings  # noqa: E402
from featlint.running.engine import check_text  # noqa: E402

HEADER = "import torch\nimport torch.nn as nn\nimport torchvision.models as models\n"
CELL = '''model_{i} = models.resnet50(weights="DEFAULT")
for param in model_{i}.parameters():
    param.requires_grad = False
model_{i}.fc = nn.Linear(model_{i}.fc.in_features, 10)
optimizer_{i} = torch.optim.SGD(model_{i}.fc.parameters(), lr=1e-3, momentum=0.9)
criterion = nn.CrossEntropyLoss()
model_{i}.train()
for images, labels in loader:
    optimizer_{i}.zero_grad()
    criterion(model_{i}(images), labels).backward()
    optimizer_{i}.step()'''
# Two findings, so that positions and messages are computed and moved into cells as in real use.
BUGS = "legacy = models.resnet18(pretrained=True)\nfor p in legacy.parameters():\n    p.require_grad = False"


def cells(count: int) -> list[str]:
    code = [HEADER + "loader = []", BUGS]
    code += [CELL.format(i=i) for i in range(count - len(code))]
    return code


def notebook(code: list[str]) -> str:
    document_cells: list[dict[str, object]] = []
    for index, source in enumerate(code, start=1):
        document_cells.append({"cell_type": "markdown", "metadata": {}, "source": [f"## Step {index}\n", "Train."]})
        document_cells.append({
            "cell_type": "code", "execution_count": index, "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": [f"epoch {index}: loss 0.{index:04d}\n"]}],
            "source": source.splitlines(keepends=True),
        })
    metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    document = {"cells": document_cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def pasted(document: dict[str, Any]) -> tuple[str, list[tuple[int, int, int]]]:
    """The code cells as one script, IPython lines commented out and a cell indented as a whole dedented (as
    IPython runs it), and the (cell, row, columns removed) of each of its rows."""
    lines: list[str] = []
    where: list[tuple[int, int, int]] = []
    for index, cell in enumerate(document["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        rows = source.splitlines()
        first = next((row for row in rows if row.strip()), "")
        indent = first[: len(first) - len(first.lstrip())]
        magic_cell = first.startswith("%%") and not first.startswith(("%%time", "%%capture"))
        for row, line in enumerate(rows, start=1):
            cut = len(indent) if indent and line.startswith(indent) else 0
            line = line[cut:]
            code = line.split("#", 1)[0].strip()
            ipython = code.startswith(("%", "!", "?")) or code.endswith("?") or "= !" in code
            lines.append(f"# {line}" if magic_cell or ipython else line)
            where.append((index, row, cut))
    return "\n".join(lines) + "\n", where


def compare(corpus: Path) -> None:
    rules = build_settings({}, None, Path.cwd(), Overrides()).rules_for(Path("bench.py"))
    same = differ = 0
    for path in sorted(corpus.rglob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        script, where = pasted(json.loads(text))
        native = [
            ((d.cell, d.start.row, d.start.column), d.code) for d in check_text(text, "nb.ipynb", rules).diagnostics
            if d.code not in ("FL002", "FL003")
        ]
        from_script = []
        for d in check_text(script, "nb.py", rules).diagnostics:
            cell, row, cut = where[d.start.row - 1]
            from_script.append(((cell, row, d.start.column + cut), d.code))
        if native == from_script:
            same += 1
        else:
            differ += 1
            print(f"{path}: notebook {native} != pasted {from_script}")
    print(f"{same + differ} notebooks: {same} with the same findings as their pasted-out code, {differ} differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--corpus", type=Path, help="compare findings with the pasted-out code instead")
    options = parser.parse_args()
    if options.corpus is not None:
        compare(options.corpus)
        return
    code = cells(options.cells)
    script = "\n".join(code) + "\n"
    text = notebook(code)
    rules = build_settings({}, None, Path.cwd(), Overrides()).rules_for(Path("bench.py"))
    linted = {"bench.py": script, "bench.ipynb": text}
    found = {path: check_text(source, path, rules).diagnostics for path, source in linted.items()}
    assert [d.code for d in found["bench.py"]] == [d.code for d in found["bench.ipynb"]], found
    times: dict[str, list[float]] = {path: [] for path in linted}
    for _ in range(options.runs):
        for path, source in linted.items():
            start = time.perf_counter()
            check_text(source, path, rules)
            times[path].append(time.perf_counter() - start)
    script_time, notebook_time = (statistics.median(times[path]) for path in linted)
    print(f"{options.cells}-cell notebook ({len(text) // 1024} KiB of JSON, {script.count(chr(10))} lines of code), "
          f"median of {options.runs}, {len(found['bench.py'])} findings each:")
    print(f"  script   {script_time * 1000:8.1f} ms")
    print(f"  notebook {notebook_time * 1000:8.1f} ms   ratio {notebook_time / script_time:.3f} (target <= 1.3)")


if __name__ == "__main__":
    main()
