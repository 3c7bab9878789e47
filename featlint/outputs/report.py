"""The input of every output format: the findings and what a format may need beyond them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only annotations: importing the rules package would load the whole registry and its analysis.
    from featlint.diagnostics import Diagnostic
    from featlint.rules.base import Rule
    from featlint.running.results import InternalError


@dataclass
class Report:
    """What a format may need beyond the findings themselves."""

    diagnostics: Sequence[Diagnostic]  # already sorted by the caller: formats keep its order
    sources: Mapping[str, str]  # path -> text, only for files with findings (code frames, fingerprints)
    rules: Sequence[type[Rule]]  # the whole registry: SARIF describes every rule, not only those that fired
    version: str
    fixed: int = 0  # findings the fix mode already applied; they are no longer in `diagnostics`
    # featlint's own failures: the machine-read formats carry them (SARIF, GitHub); every format's caller also
    # prints them on stderr and exits 2.
    errors: Sequence[InternalError] = ()
