"""Cost of featlint's generated knowledge (torchvision, timm, transformers, PEFT): the size of the shipped data
and the time to load it.

Each measurement runs in a fresh interpreter (the loader caches for the life of the process), with
featlint.analysis.torchvision already imported, so the number is the first lookup: reading and parsing
data/torchvision.json and indexing the builders. The architecture of one builder and the expansion of its
parameter names are measured apart, since only some rules ask for them. The hub files are each loaded on the
first question about their library (a file that imports none of them loads none): each is timed in a
fresh interpreter too, with the first lookup a rule makes. Target: each load under 20 ms.

    .venv/bin/python benchmarks/bench_knowledge.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from importlib.resources import files

_PROBE = """
import json, time
import featlint.analysis.torchvision as tv
t0 = time.perf_counter()
builder = tv.builder("torchvision.models.resnet50")
t1 = time.perf_counter()
tv.architecture(tv.builder_by_short_name("efficientnet_b7"))
t2 = time.perf_counter()
tv.parameter_names(tv.builder_by_short_name("efficientnet_b7"))
t3 = time.perf_counter()
import featlint.analysis.hub_knowledge as hk
t4 = time.perf_counter()
hk.hf_classifier("RobertaForSequenceClassification")
t5 = time.perf_counter()
hk.hf_parameter_names("RobertaForSequenceClassification")
t6 = time.perf_counter()
hk.is_peft_config_with_modules_to_save("LoraConfig")
t7 = time.perf_counter()
hk.timm_architecture("convnext_tiny")
t8 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "architecture": t2 - t1, "parameter_names": t3 - t2,
                  "transformers load": t5 - t4, "hf parameter_names": t6 - t5, "peft load": t7 - t6,
                  "timm load": t8 - t7}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    data = files("featlint").joinpath("data/torchvision.json")
    size = len(data.read_bytes())
    parsed = json.loads(data.read_text(encoding="utf-8"))
    classification = sum(1 for entry in parsed["builders"].values() if "architecture" in entry)
    samples: dict[str, list[float]] = {}
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
        for key, value in json.loads(out).items():
            samples.setdefault(key, []).append(value * 1000)
    print(f"data/torchvision.json: {size / 1024:.1f} KiB, {len(parsed['builders'])} builders "
          f"({classification} with an architecture), {len(parsed['parameter_trees'])} shared parameter-tree nodes")
    for library in ("timm", "transformers", "peft"):
        print(f"data/{library}.json: {len(files('featlint').joinpath(f'data/{library}.json').read_bytes()) / 1024:.1f} KiB")
    timm = json.loads(files("featlint").joinpath("data/timm.json").read_text(encoding="utf-8"))
    built = sum(1 for entry in timm["architectures"].values() if "shape" in entry)
    print(f"  timm: {len(timm['architectures'])} architectures ({built} built), {len(timm['shapes'])} shared shapes, "
          f"{len(timm['cfgs'])} shared tag configurations")
    for key, values in samples.items():
        print(f"{key:>20}: median {statistics.median(values):6.2f} ms, max {max(values):6.2f} ms over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
