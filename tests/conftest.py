from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The maintainers' material beside the repository (the rule catalogue); a fresh clone does not have it.
SHARED = REPO.parent / "shared"
# The official SARIF 2.1.0 schema, vendored (see tests/data/README.md for its source and licence).
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
# The lines a human format prints after the findings (on stdout, as ruff does).
_SUMMARY = re.compile(r"Found \d+ problems? |All checks passed\.|\[\*\] \d+ fixable|\(\d+ more fixable|\d+ new findings? ")


def finding_lines(stdout: str) -> list[str]:
    """The findings of a concise run's output, without the summary that follows them."""
    return [line for line in stdout.splitlines() if not _SUMMARY.match(line)]


def run_featlint(args: Sequence[str], cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line in a child process, as a user or CI runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    env.pop("FEATLINT_OUTPUT_FORMAT", None)
    return subprocess.run(
        [sys.executable, "-m", "featlint", *args],
        cwd=cwd or REPO, env=env, text=True, capture_output=True, input=stdin, timeout=120,
    )


@pytest.fixture
def featlint():
    return run_featlint


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.slow` tests run only with FEATLINT_SLOW_TESTS=1 (see pyproject.toml)."""
    if os.environ.get("FEATLINT_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set FEATLINT_SLOW_TESTS=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
