"""featlint: a linter for transfer learning with PyTorch.

The public API is :func:`lint_source` and :func:`lint_paths`; both return the :class:`Diagnostic` objects that
every output format renders. Imports are lazy so that ``featlint --version`` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featlint.version import __version__

if TYPE_CHECKING:
    from featlint.diagnostics import Diagnostic
    from featlint.running.engine import lint_source
    from featlint.running.session import lint_paths

__all__ = ["Diagnostic", "__version__", "lint_paths", "lint_source"]


def __getattr__(name: str) -> Any:
    if name == "lint_source":
        from featlint.running.engine import lint_source

        return lint_source
    if name == "lint_paths":
        from featlint.running.session import lint_paths

        return lint_paths
    if name == "Diagnostic":
        from featlint.diagnostics import Diagnostic

        return Diagnostic
    raise AttributeError(name)
