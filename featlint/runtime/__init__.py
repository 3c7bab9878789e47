"""The runtime checker: build the real model and optimizer, run real training steps, report what trains.

Needs torch and torchvision (`pip install "featlint[runtime]"`); the static linter never imports this package.
`audit` is the Python API for notebooks and test suites; `featlint run` (see :mod:`featlint.runtime.runner`)
runs a whole training script under instrumentation in a child process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featlint.runtime.auditor import audit
    from featlint.runtime.inputs import NeedsExampleInput
    from featlint.runtime.report import ParamRow, Report

__all__ = ["NeedsExampleInput", "ParamRow", "Report", "audit"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the torch-free parts (report, findings, runner) load without importing torch.
    if name == "audit":
        from featlint.runtime.auditor import audit

        return audit
    if name == "NeedsExampleInput":
        from featlint.runtime.inputs import NeedsExampleInput

        return NeedsExampleInput
    if name in ("Report", "ParamRow"):
        from featlint.runtime import report

        return getattr(report, name)
    raise AttributeError(name)
