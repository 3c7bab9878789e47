"""featlint: a linter for transfer learning with PyTorch.

The public API is :func:`lint_source` and :func:`lint_paths`; both return the :class:`Diagnostic` objects that
every output format renders. Imports are lazy so that ``featlint --version`` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from featlint.diagnostics import Diagnostic
    from featlint.engine import lint_paths, lint_source

__all__ = ["Diagnostic", "__version__", "lint_paths", "lint_source"]


def __getattr__(name: str) -> Any:
    if name in ("lint_source", "lint_paths"):
        from featlint import engine

        return getattr(engine, name)
    if name == "Diagnostic":
        from featlint.diagnostics import Diagnostic

        return Diagnostic
    raise AttributeError(name)
