"""The name and severity of every code the runtime checker reports.

The child of `featlint run` runs under the user's interpreter with only featlint's runtime package on its path
(see runner.py): it cannot import the rule registry (which needs libcst). This table is what the child needs of
it; tests/test_runtime_rules_docs.py checks it against the registry.
"""

from __future__ import annotations

from featlint.diagnostics import Severity

RUNTIME_CODES: dict[str, tuple[str, Severity]] = {
    "FL201": ("trainable-not-in-optimizer", Severity.ERROR),
    "FL202": ("frozen-params-in-optimizer", Severity.WARNING),
    "FL203": ("empty-optimizer", Severity.ERROR),
    "FL701": ("no-gradient", Severity.ERROR),
    "FL702": ("frozen-params-changed", Severity.ERROR),
    "FL703": ("frozen-batchnorm-stats-changed", Severity.WARNING),
    "FL704": ("forward-failed", Severity.ERROR),
}
