"""libcst, imported on first use rather than when featlint's modules are imported.

libcst takes about 0.2 s to import (it defines hundreds of dataclasses), more than parsing a training script.
`featlint --version`, `featlint rules`, `featlint explain` and a run answered wholly from the cache never
parse, so they should never pay for it. featlint's modules therefore write `from featlint.startup.deferred import cst`
instead of `import libcst as cst`: an `import libcst` statement would load the module at once (on Python 3.11
the import statement itself reads the module's `__spec__`), while taking the name from here touches nothing.
The module is the standard `importlib.util.LazyLoader` recipe, registered in `sys.modules` under its own name
because libcst's submodules import it; once loaded it is the ordinary module object, so nothing pays for the
laziness afterwards. When it does load, the methods of its dataclasses come compiled from the previous run
(featlint/startup/dataclass_code.py), which halves what the import costs.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _WithCompiledDataclasses:
    """Runs the real loader with the dataclass code cache in place, then gives the module its loader back.
    (Not an importlib.abc.Loader: importing importlib.abc costs more than the cache saves on a small file.)"""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        from featlint.startup.dataclass_code import compiled_dataclass_methods

        module.__spec__.loader = module.__loader__ = self.loader  # type: ignore[union-attr]
        with compiled_dataclass_methods():
            self.loader.exec_module(module)


def _deferred(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(_WithCompiledDataclasses(spec.loader))
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def package_file(module: ModuleType, name: str) -> Path:
    """The path of file `name` in `module`'s package, found without loading the module if it is deferred
    (ModuleType's own attribute lookup bypasses LazyLoader's, which loads on any attribute)."""
    spec = ModuleType.__getattribute__(module, "__spec__")
    return Path(spec.origin).with_name(name)


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = _deferred("libcst")

__all__ = ["cst", "package_file"]
