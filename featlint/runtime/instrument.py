"""What `featlint run` watches inside the user's process.

Patches a few torch entry points, records where (in the user's files) each module and optimizer was made
and each layer assigned, and checks the invariants around every `optimizer.step()`:

* the models are the parameter-holding modules the script calls at the top level with gradients enabled;
* before a step: which trainable parameters got a gradient, whether the running statistics of frozen
  BatchNorm layers moved since the model's first forward of this step, and a copy of what the step may change;
* after it: which parameters changed, and which of them were frozen.

After the requested number of steps the post-step hook raises :class:`StopRun`, which ends the script.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

import torch
from torch import nn

from featlint.runtime import collect
from featlint.runtime.findings import Site


class StopRun(BaseException):
    """Ends the script once enough steps were watched; a BaseException so `except Exception` lets it pass."""


class UserFiles:
    """Whether a source file is the user's (below the script's directory, not an installed package)."""

    def __init__(self, script: str) -> None:
        self.root = os.path.dirname(os.path.abspath(script)) + os.sep
        self.installed = tuple(
            os.path.abspath(p) + os.sep for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"],
                                                  sys.prefix, sys.base_prefix}
        )
        self.own = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
        self._cache: dict[str, bool] = {}

    def __call__(self, filename: str) -> bool:
        known = self._cache.get(filename)
        if known is None:
            path = os.path.abspath(filename)
            known = (path.startswith(self.root) and not path.startswith(self.installed)
                     and not path.startswith(self.own) and "site-packages" not in path)
            self._cache[filename] = known
        return known

    def site(self, frame: FrameType | None, skip_constructors: bool = False, limit: int = 64) -> Site | None:
        """The first user frame from `frame` outwards; with `skip_constructors`, frames of `__init__`
        methods of modules are passed over, so a layer made inside a model's class points at `Net()`."""
        while frame is not None and limit:
            if self(frame.f_code.co_filename) and not (
                skip_constructors and frame.f_code.co_name == "__init__"
                and isinstance(frame.f_locals.get("self"), nn.Module)
            ):
                return Site(os.path.abspath(frame.f_code.co_filename), frame.f_lineno)
            frame = frame.f_back
            limit -= 1
        return None


class Tracker:
    def __init__(self, user: UserFiles, steps: int, meta: bool, on_step: Callable[[], None]) -> None:
        self.user = user
        self.max_steps = steps
        self.meta = meta
        self.on_step = on_step
        self.made: weakref.WeakKeyDictionary[nn.Module, Site] = weakref.WeakKeyDictionary()
        self.assigned: weakref.WeakKeyDictionary[nn.Module, Site] = weakref.WeakKeyDictionary()
        self.optimizers: list[torch.optim.Optimizer] = []
        self.optimizer_sites: list[Site | None] = []
        self.empty_optimizer_site: Site | None = None
        self.models: dict[int, nn.Module] = {}  # trained models, in the order first called
        self.forward_site: Site | None = None
        self.step_site: Site | None = None
        self.steps = 0
        self.got_grad: set[int] = set()
        self.changed: set[int] = set()
        self.frozen_changed: set[int] = set()
        self.changed_batchnorms: set[str] = set()
        self.failures: dict[int, tuple[BaseException, nn.Module, object]] = {}  # innermost layer per error
        self._depth = 0
        self._batchnorms_before: dict[int, dict[str, torch.Tensor]] = {}
        self._before_step: dict[int, torch.Tensor] = {}
        self._frozen_at_step: set[int] = set()

    # --- installation -------------------------------------------------------------------------------
    def install(self) -> None:
        self._patch_module_init()
        self._patch_module_setattr()
        self._patch_module_call()
        self._patch_optimizer_init()
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        register_optimizer_step_pre_hook(self._before)
        register_optimizer_step_post_hook(self._after)

    def _patch_module_init(self) -> None:
        original = nn.Module.__init__
        tracker = self

        def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            site = tracker.user.site(sys._getframe(1), skip_constructors=True)
            if site is not None:
                tracker.made[self] = site

        nn.Module.__init__ = __init__  # type: ignore[method-assign]

    def _patch_module_setattr(self) -> None:
        original = nn.Module.__setattr__
        tracker = self

        def __setattr__(self: nn.Module, name: str, value: Any) -> None:
            original(self, name, value)
            if isinstance(value, nn.Module):
                # `model.fc = ...` calls us directly; `model.classifier[6] = ...` through Sequential.__setitem__.
                site = tracker.user.site(sys._getframe(1), limit=3)
                if site is not None:
                    tracker.assigned[value] = site

        nn.Module.__setattr__ = __setattr__  # type: ignore[method-assign]

    def _patch_module_call(self) -> None:
        original = nn.Module.__call__
        tracker = self

        def __call__(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
            tracker._depth += 1
            try:
                if tracker._depth == 1:
                    if tracker.meta:
                        from featlint.runtime.meta import to_meta

                        args, kwargs = to_meta(args), to_meta(kwargs)
                    tracker._model_called(self)
                return original(self, *args, **kwargs)
            except Exception as error:
                tracker.failures.setdefault(id(error), (error, self, (args, kwargs)))
                raise
            finally:
                tracker._depth -= 1

        nn.Module.__call__ = __call__  # type: ignore[method-assign]

    def _patch_optimizer_init(self) -> None:
        original = torch.optim.Optimizer.__init__
        tracker = self

        def __init__(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> None:
            site = tracker.user.site(sys._getframe(1))
            try:
                original(self, *args, **kwargs)
            except ValueError as error:
                if "empty parameter list" in str(error):
                    tracker.empty_optimizer_site = site
                raise
            if all(self is not known for known in tracker.optimizers):
                tracker.optimizers.append(self)
                tracker.optimizer_sites.append(site)

        torch.optim.Optimizer.__init__ = __init__  # type: ignore[method-assign]

    # --- observation ---------------------------------------------------------------------------------
    def _model_called(self, module: nn.Module) -> None:
        if next(module.parameters(), None) is None:
            return  # a loss or an activation called on its own
        if torch.is_grad_enabled() and id(module) not in self.models:
            self.models[id(module)] = module
        if self.forward_site is None and torch.is_grad_enabled():
            self.forward_site = self.user.site(sys._getframe(2))
        if id(module) not in self._batchnorms_before:
            self._batchnorms_before[id(module)] = collect.snapshot(collect.frozen_batchnorm_buffers({"m": module}))

    def named_models(self) -> dict[str, nn.Module]:
        return {f"model{i}" if i else "model": m for i, m in enumerate(self.models.values())}

    def _before(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.step_site = self.user.site(sys._getframe(1)) or self.step_site
        for _, param in collect.named_parameters(self.named_models()):
            if param.requires_grad and param.grad is not None:
                self.got_grad.add(id(param))
        for key, module in self.models.items():
            before = self._batchnorms_before.pop(key, None)
            if before:
                now = collect.frozen_batchnorm_buffers({"m": module})
                self.changed_batchnorms.update(
                    f"{self._label(module)}{name}" for name in collect.changed_layers(collect.differs(before, now))
                )
        held = [p for group in optimizer.param_groups for p in group["params"]]
        self._before_step = {id(p): p.detach().clone() for p in held if collect.comparable(p)}
        self._frozen_at_step = {id(p) for p in held if not p.requires_grad}

    def _after(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            for param in group["params"]:
                before = self._before_step.get(id(param))
                if before is not None and not torch.equal(before, param.detach()):
                    self.changed.add(id(param))
                    if id(param) in self._frozen_at_step:
                        self.frozen_changed.add(id(param))
        self._before_step = {}
        self.steps += 1
        self.on_step()
        if self.steps >= self.max_steps:
            raise StopRun

    def _label(self, module: nn.Module) -> str:
        names = self.named_models()
        if len(names) < 2:
            return ""
        return next((f"{label}." for label, m in names.items() if m is module), "")

    def site_of(self, module: nn.Module) -> Site | None:
        return self.assigned.get(module) or self.made.get(module)
