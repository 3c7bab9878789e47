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

import itertools
import linecache
import os
import sys
import sysconfig
from collections.abc import Callable
from types import FrameType
from typing import Any

import torch
from torch import nn

from featlint.runtime import collect
from featlint.runtime.identity import IdentityMap
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
                return _site(frame)
            frame = frame.f_back
            limit -= 1
        return None


def _site(frame: FrameType) -> Site:
    """The expression the frame is executing (Python 3.11+ records its columns), else its line from the
    first character that is not indentation."""
    path = os.path.abspath(frame.f_code.co_filename)
    row = frame.f_lineno
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is not None and frame.f_lasti >= 0:
        start, end, column, end_column = next(itertools.islice(positions(), frame.f_lasti // 2, None),
                                              (None, None, None, None))
        if start == row and end is not None and column is not None and end_column is not None:
            return Site(path, row, column + 1, end, end_column + 1)
    text = linecache.getline(frame.f_code.co_filename, row)
    column = len(text) - len(text.lstrip()) + 1 if text.strip() else 1
    return Site(path, row, column, row, len(text.rstrip()) + 1 if text.strip() else column + 1)


class Tracker:
    def __init__(self, user: UserFiles, steps: int, meta: bool, on_step: Callable[[], None]) -> None:
        self.user = user
        self.max_steps = steps
        self.meta = meta
        self.on_step = on_step
        self.made: IdentityMap[Site] = IdentityMap()
        self.assigned: IdentityMap[Site] = IdentityMap()
        self.optimizers: list[torch.optim.Optimizer] = []
        self.optimizer_sites: list[Site | None] = []
        self.empty_optimizer_site: Site | None = None
        self.models: dict[int, nn.Module] = {}  # trained models, in the order first called
        self.forward_site: Site | None = None
        self.step_site: Site | None = None
        self.train_sites: IdentityMap[Site] = IdentityMap()
        self.freeze_sites: dict[int, Site] = {}  # id(parameter) -> where the user's code last froze it
        self.train_site: Site | None = None  # the `train()` in force when frozen BatchNorm statistics moved
        self.steps = 0
        self.got_grad: set[int] = set()  # in any watched step (FL701)
        self.last_got_grad: set[int] = set()  # in the last watched step (the table)
        self.last_changed: dict[int, bool] = {}  # in the last step of the optimizer holding it (the table)
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
        self._patch_module_train()
        self._patch_parameter_freeze()
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

    def _patch_module_train(self) -> None:
        original = nn.Module.train
        tracker = self

        def train(self: nn.Module, mode: bool = True) -> nn.Module:
            if mode:  # `model.eval()` is `train(False)` called from torch: only the user's own calls count
                site = tracker.user.site(sys._getframe(1), limit=1)
                if site is not None:
                    tracker.train_sites[self] = site
            return original(self, mode)

        nn.Module.train = train  # type: ignore[method-assign]

    def _patch_parameter_freeze(self) -> None:
        """Where each parameter was frozen (`p.requires_grad = False`, `requires_grad_(False)`, also through
        `module.requires_grad_`), so that FL702 and FL203 point back at it too."""
        flag = getattr(torch._C, "TensorBase", None) or torch._C._TensorBase  # renamed in torch 2.3
        flag = flag.requires_grad
        original_method = nn.Parameter.requires_grad_
        tracker = self

        def freezing(param: nn.Parameter, value: bool) -> None:
            if not value:
                site = tracker.user.site(sys._getframe(2), limit=3)
                if site is not None:
                    tracker.freeze_sites[id(param)] = site

        def set_flag(param: nn.Parameter, value: bool) -> None:
            flag.__set__(param, value)
            freezing(param, value)

        def requires_grad_(param: nn.Parameter, requires_grad: bool = True) -> nn.Parameter:
            result = original_method(param, requires_grad)
            freezing(param, requires_grad)
            return result

        nn.Parameter.requires_grad = property(flag.__get__, set_flag)  # type: ignore[assignment]
        nn.Parameter.requires_grad_ = requires_grad_  # type: ignore[method-assign]

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
        self.last_got_grad = set()
        for _, param in collect.named_parameters(self.named_models()):
            if param.requires_grad and param.grad is not None:
                self.last_got_grad.add(id(param))
        self.got_grad |= self.last_got_grad
        for key, module in self.models.items():
            before = self._batchnorms_before.pop(key, None)
            if before:
                now = collect.frozen_batchnorm_buffers({"m": module})
                moved = collect.changed_layers(collect.differs(before, now))
                if moved and self.train_site is None:
                    self.train_site = self._train_site(module, moved)
                self.changed_batchnorms.update(f"{self._label(module)}{name}" for name in moved)
        held = [p for group in optimizer.param_groups for p in group["params"]]
        self._before_step = {id(p): p.detach().clone() for p in held if collect.comparable(p)}
        self._frozen_at_step = {id(p) for p in held if not p.requires_grad}

    def _after(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for group in optimizer.param_groups:
            for param in group["params"]:
                before = self._before_step.get(id(param))
                moved = before is not None and not torch.equal(before, param.detach())
                self.last_changed[id(param)] = moved
                if moved and id(param) in self._frozen_at_step:
                    self.frozen_changed.add(id(param))
        self._before_step = {}
        self.steps += 1
        self.on_step()
        if self.steps >= self.max_steps:
            raise StopRun

    def _train_site(self, model: nn.Module, layers: list[str]) -> Site | None:
        """The user's `train()` on the innermost module holding one of the moved layers (or the model itself)."""
        found = [(name, site) for name, module in model.named_modules()
                 if (site := self.train_sites.get(module)) is not None
                 and any(not name or layer == name or layer.startswith(name + ".") for layer in layers)]
        return max(found, key=lambda item: item[0].count(".") + bool(item[0]))[1] if found else None

    def _label(self, module: nn.Module) -> str:
        names = self.named_models()
        if len(names) < 2:
            return ""
        return next((f"{label}." for label, m in names.items() if m is module), "")

    def site_of(self, module: nn.Module) -> Site | None:
        return self.assigned.get(module) or self.made.get(module)
