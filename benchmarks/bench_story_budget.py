"""The model story's bounds on pathological files: 100 nested branches, and 50 functions that call each other.

The branches: if/else statements nested as deep as Python allows (99 levels: the tokenizer refuses 100), on
tests nobody can decide, then a 100-arm if/elif chain over a constant.

Branches the file cannot decide are interpreted arm by arm (never path by path), calls into the file's own
functions stop at a depth and at recursion, and every file has a statement budget after which the story is
dropped (silence, not a story cut short). Each generated file must lint in under 2 s.
Run: python benchmarks/bench_story_budget.py [--runs N] [--depth N] [--functions N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from featlint import lint_source
from featlint.analysis import FileAnalysis
from featlint.startup.deferred import cst

TARGET_S = 2.0
MAX_NESTING = 99  # Python's tokenizer: "too many indentation levels" at 100
_HEADER = "import random\n\nimport torch\nimport torchvision\n\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"


def nested_branches(depth: int) -> str:
    """if/else statements, each nested in the previous one's body (at most 99 deep), on tests nobody can
    decide, every arm freezing or replacing and building an optimizer; then a decided chain `depth` arms long."""
    lines = [_HEADER]
    for level in range(min(depth, MAX_NESTING)):
        pad = "    " * level
        lines += [
            f"{pad}if random.random() > {level / depth:.3f}:",
            f"{pad}    model.layer{level % 4 + 1}.requires_grad_(False)",
            f"{pad}    model.fc = torch.nn.Linear(512, {level + 2})",
            f"{pad}    opt_{level} = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)",
            f"{pad}else:",
            f"{pad}    model.layer{level % 4 + 1}.requires_grad_(True)",
            f"{pad}    opt_{level} = torch.optim.Adam(model.fc.parameters(), lr=0.001)",
            f"{pad}    model = torchvision.models.resnet50(weights='DEFAULT')",
        ]
    lines.append(f"\nchoice = {depth // 2}")
    for level in range(depth):
        keyword = "if" if level == 0 else "elif"
        lines += [f"{keyword} choice == {level}:", f"    model.layer{level % 4 + 1}.requires_grad_(False)"]
    lines.append("optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n")
    return "\n".join(lines)


def mutual_calls(functions: int) -> str:
    """`functions` functions, each freezing part of the model, building an optimizer and calling three others
    (itself among the callees of some), all called from the module."""
    lines = [_HEADER]
    for index in range(functions):
        callees = [(index + step) % functions for step in (1, 7, 13)]
        lines += [
            f"def step_{index}(net, flag):",
            f"    net.layer{index % 4 + 1}.requires_grad_(flag)",
            "    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, net.parameters()), lr=0.01)",
            *(f"    step_{callee}(net, not flag)" for callee in callees),
            "    return optimizer",
            "",
        ]
    lines += [f"step_{index}(model, {index % 2 == 0})" for index in range(functions)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--functions", type=int, default=50)
    options = parser.parse_args()
    lint_source(_HEADER)  # warm up: imports, the knowledge data
    cases = {
        f"{options.depth} nested branches": nested_branches(options.depth),
        f"{options.functions} mutually calling functions": mutual_calls(options.functions),
    }
    worst = 0.0
    for label, source in cases.items():
        story_times, lint_times = [], []
        for _ in range(options.runs):
            module = cst.parse_module(source)
            start = time.perf_counter()
            story = FileAnalysis(module).story
            story_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = lint_source(source)
            lint_times.append(time.perf_counter() - start)
        lint, story_time = statistics.median(lint_times), statistics.median(story_times)
        worst = max(worst, lint)
        print(
            f"  {label:32} {len(source.splitlines()):5} lines  story {story_time * 1000:7.1f} ms  "
            f"lint {lint * 1000:7.1f} ms  ({len(story.events)} events, {len(found)} findings)"
        )
    print(f"  slowest lint: {worst:.2f} s  (target < {TARGET_S:.0f} s; an empty story means the budget ran out)")


if __name__ == "__main__":
    main()
