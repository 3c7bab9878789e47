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
