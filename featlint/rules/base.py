"""What a rule is: metadata, documentation, examples and a check that queries the shared file analysis.

A rule never walks the tree itself. The engine builds one :class:`~featlint.analysis.FileAnalysis` per file
and hands it to every selected rule through a :class:`~featlint.context.FileContext`; a rule reads the facts
it needs from there and reports through the context, which turns nodes into positions only when something
is reported (position metadata costs about as much as parsing).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from featlint.diagnostics import Severity

if TYPE_CHECKING:
    from featlint.context import FileContext
    from featlint.diagnostics import Diagnostic


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """The options of a rule that has none."""


class Rule:
    """Base class of every rule; subclasses set the class attributes and implement :meth:`check`.

    The class docstring is the rule's documentation in ruff's form (``## What it does``,
    ``## Why is this bad?``, ``## Example``, ``## Use instead``); ``featlint explain`` prints it and a test
    runs its two code blocks (the example must fire, the correction must not).
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    # One line, shown by `featlint rules` and as SARIF's shortDescription.
    summary: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    fixable: ClassVar[bool] = False
    # Code that must produce at least one finding of this rule, and code that must produce none.
    fires: ClassVar[tuple[str, ...]] = ()
    silent: ClassVar[tuple[str, ...]] = ()
    # Notebook-only rules: `fires`, `silent` and the documentation's examples are notebooks in nbconvert's
    # script form (`# In[3]:` starts a code cell that ran third, `# In[ ]:` one never run).
    examples_are_notebooks: ClassVar[bool] = False
    # A frozen dataclass of the rule's settings, read from `[tool.featlint.<rule name>]`.
    Options: ClassVar[type[Any]] = NoOptions
    # The prefilter (featlint/running/prefilter.py) skips parsing a file when no selected rule can fire on it.
    # Declare here the substrings that any finding of this rule needs in the file's text: the rule can fire
    # only if at least one of them occurs (in code, a string or a comment: it is a plain substring test).
    # Name every way a finding can arise, including aliases the analysis resolves (`import torch.optim as o`
    # still contains "optim"). None, the default, means "always run": a rule that declares nothing is never
    # skipped, so leaving it out costs speed, never correctness. For a sharper test override `may_fire`.
    # tests/test_prefilter.py checks that findings are identical with and without the prefilter.
    requires_tokens: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        raise NotImplementedError

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """False only when no finding of this rule is possible in `source`: a cheap text test run before
        parsing. It must never be False for a file the rule would report on."""
        return cls.requires_tokens is None or any(token in source for token in cls.requires_tokens)

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def fix_availability(cls) -> str:
        return "sometimes" if cls.fixable else "none"


class InputRule(Rule):
    """A rule the engine reports itself, before any analysis (a file that cannot be read or parsed)."""

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        return iter(())


class RuntimeRule(Rule):
    """A rule only the runtime checker (`featlint run`, `featlint.runtime.audit`) can report: what it finds
    exists only once the model has run. It is in the registry so that its code can be selected, ignored,
    suppressed and documented like any other; reading the source finds nothing."""

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        return iter(())

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Never on source text: no file has to be parsed for a runtime rule."""
        return False
