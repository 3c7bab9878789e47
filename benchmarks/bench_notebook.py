"""A notebook against the same code as a script: a 200-cell fine-tuning notebook (code cells with outputs,
markdown between them, execution counts) linted in this process, and its code cells pasted into one `.py`.

Reading a notebook adds the JSON, the IPython check of each cell and the move of findings into cells; the
parse and the analysis are the script's. Target: the notebook within 1.3x the script's time.

Run: python benchmarks/bench_notebook.py [--runs N] [--cells N]
Prints the median of N runs of each (alternating, after one warm-up run of each) and their ratio.
Speed targets live here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cells", type=int, default=200)
    options = parser.parse_args()
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
