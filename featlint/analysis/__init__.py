"""The per-file analysis that all rules share: computed once, queried by every rule."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from featlint.analysis.failure import AnalysisFailed
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, collect
from featlint.analysis.values import ValueAnalyzer
from featlint.startup.deferred import cst

if TYPE_CHECKING:
    from featlint.analysis.architectures import Architectures
    from featlint.analysis.hubs import Hubs
    from featlint.analysis.inputs import Inputs
    from featlint.analysis.project import Project
    from featlint.analysis.story import Story

T = TypeVar("T")


class FileAnalysis:
    def __init__(self, module: cst.Module, path: Path | str | None = None, src: tuple[Path, ...] = ()) -> None:
        """`path`: the linted file on disk, whose project's modules the story follows calls into (None, or a
        path that is no file: the file alone); `src`: the configured roots of its absolute imports."""
        self.module = module
        self.project = _project(path, src)
        self.facts: ModuleFacts = collect(module)
        self.names = NameResolver(self.facts)
        self.values = ValueAnalyzer(self.facts, self.names)
        self._failed: dict[str, AnalysisFailed] = {}

    @functools.cached_property
    def story(self) -> Story:
        """What happens to each model, in order; built on first use (only rules about order ask for it)."""
        from featlint.analysis.interpreter import build_story

        return self._build(
            "the model story", lambda: build_story(self.module, self.facts, self.names, self.values, self.project)
        )

    @functools.cached_property
    def architectures(self) -> Architectures:
        """Which torchvision model each expression holds and what lives inside it; built on first use."""
        from featlint.analysis.architectures import Architectures

        return self._build("the architectures", lambda: Architectures(self.module, self.facts, self.names, self.values))

    @functools.cached_property
    def inputs(self) -> Inputs:
        """The transforms and pipelines the file writes and the torchvision models they can feed."""
        from featlint.analysis.inputs import Inputs

        return self._build("the inputs", lambda: Inputs(self.facts, self.names, self.architectures))

    @functools.cached_property
    def hubs(self) -> Hubs:
        """The file's timm, Hugging Face and PEFT objects and the order of its statements; built on first
        use (only the model-hub rules ask, on files that name these libraries)."""
        from featlint.analysis.hubs import Hubs

        return self._build("the model-hub objects", lambda: Hubs(self.module, self.facts, self.names))

    def _build(self, part: str, build: Callable[[], T]) -> T:
        """A shared part, built once: should it fail, every rule that reads it gets the same AnalysisFailed
        (the engine reports it once per file) instead of building it again."""
        failed = self._failed.get(part)
        if failed is not None:
            raise failed
        try:
            return build()
        except (RecursionError, AnalysisFailed):  # too deep: FL001; a part it reads failed: reported as that part
            raise
        except Exception as error:
            self._failed[part] = AnalysisFailed(part, error)
            raise self._failed[part] from error


def _project(path: Path | str | None, src: tuple[Path, ...]) -> Project | None:
    if path is None or not str(path).endswith((".py", ".ipynb")):
        return None
    from featlint.analysis.project import Project  # here: most files never need the project's modules

    located = Path(path)
    if not located.is_file() or _INSTALLED & set(located.parts):
        return None  # an installed package is a library's code, not a training project: linted file by file
    return Project(located, src)


_INSTALLED = frozenset({"site-packages", "dist-packages"})
