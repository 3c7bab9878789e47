"""The per-file analysis that all rules share: computed once, queried by every rule."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, collect
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst

if TYPE_CHECKING:
    from featlint.analysis.architectures import Architectures
    from featlint.analysis.hubs import Hubs
    from featlint.analysis.inputs import Inputs
    from featlint.analysis.story import Story


class FileAnalysis:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.facts: ModuleFacts = collect(module)
        self.names = NameResolver(self.facts)
        self.values = ValueAnalyzer(self.facts, self.names)

    @functools.cached_property
    def story(self) -> Story:
        """What happens to each model, in order; built on first use (only rules about order ask for it)."""
        from featlint.analysis.interpreter import build_story

        return build_story(self.module, self.facts, self.names, self.values)

    @functools.cached_property
    def architectures(self) -> Architectures:
        """Which torchvision model each expression holds and what lives inside it; built on first use."""
        from featlint.analysis.architectures import Architectures

        return Architectures(self.module, self.facts, self.names, self.values)

    @functools.cached_property
    def inputs(self) -> Inputs:
        """The transforms and pipelines the file writes and the torchvision models they can feed."""
        from featlint.analysis.inputs import Inputs

        return Inputs(self.facts, self.names, self.architectures)

    @functools.cached_property
    def hubs(self) -> Hubs:
        """The file's timm, Hugging Face and PEFT objects and the order of its statements; built on first
        use (only the model-hub rules ask, on files that name these libraries)."""
        from featlint.analysis.hubs import Hubs

        return Hubs(self.module, self.facts, self.names)
