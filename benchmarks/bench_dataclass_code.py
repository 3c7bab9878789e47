"""Does the compiled-dataclass cache (featlint/startup/dataclass_code.py) pay on this interpreter?

It hooks the `exec` that `dataclasses` calls, which is a CPython detail: 3.13 rewrote how dataclasses builds
its methods (one `exec` per class instead of one per method). This times `import libcst` in fresh processes,
with the cache filled by a first run and without it, alternating the two, and checks that a cached import
compiles nothing. Run it with each supported interpreter (featlint and libcst importable):

    PYTHONPATH=. python3.13 benchmarks/bench_dataclass_code.py --runs 15

Speed targets live here, never in tests; tests/test_dataclass_code.py checks that the cache is used exactly
where this benchmark shows it helps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
from pathlib import Path
start = time.perf_counter()
compiled = None
if sys.argv[1] == "cached":
    from featlint.startup.dataclass_code import compiled_dataclass_methods
    with compiled_dataclass_methods(Path(sys.argv[2])) as cache:
        import libcst
    compiled = cache.compiled
else:
    import libcst
print(json.dumps({"seconds": time.perf_counter() - start, "compiled": compiled}))
"""


def _once(mode: str, directory: str) -> dict[str, float | int | None]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", CHILD, mode, directory],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        first = _once("cached", directory)  # fills the cache, as the first run after installing does
        plain, cached, compiled = [], [], set()
        for _ in range(args.runs):
            plain.append(_once("plain", directory)["seconds"])
            run = _once("cached", directory)
            cached.append(run["seconds"])
            compiled.add(run["compiled"])
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}: import libcst, median of {args.runs} fresh processes")
    print(f"  without the cache        {statistics.median(plain) * 1000:7.1f} ms")
    print(f"  first run (fills it)     {first['seconds'] * 1000:7.1f} ms, {first['compiled']} compile calls"
          " (a method each, a class each from 3.13)")
    print(f"  with the cache           {statistics.median(cached) * 1000:7.1f} ms, compiled {sorted(compiled)}")
    print(f"  saved                    {(statistics.median(plain) - statistics.median(cached)) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
