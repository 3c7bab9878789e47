from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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
