"""The per-file analysis that all rules share: computed once, queried by every rule."""

from __future__ import annotations

import libcst as cst

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, collect
from featlint.analysis.values import ValueAnalyzer


class FileAnalysis:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.facts: ModuleFacts = collect(module)
        self.names = NameResolver(self.facts)
        self.values = ValueAnalyzer(self.facts, self.names)
