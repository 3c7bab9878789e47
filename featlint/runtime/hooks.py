"""Patch a library when the script imports it, not before: a script that never imports torchvision or timm
does not pay for importing them (seconds each), and one that does gets the patch before its first use.

Child side: `after_import("timm.models._builder", patch)` calls `patch(module)` right after that module is
executed, or at once when it is already imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Patch = Callable[[ModuleType], None]


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.patches: dict[str, list[Patch]] = {}
        self._finding: set[str] = set()

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name not in self.patches or name in self._finding:
            return None
        self._finding.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, patches = spec.loader, self.patches.pop(name)

        class Patching(importlib.abc.Loader):
            def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                loader.exec_module(module)
                for patch in patches:
                    patch(module)

        spec.loader = Patching()
        return spec


_FINDER = _AfterImport()


def after_import(name: str, patch: Patch) -> None:
    module = sys.modules.get(name)
    if module is not None:
        patch(module)
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    _FINDER.patches.setdefault(name, []).append(patch)
