"""Lightning's `Trainer.fit(module)`: it builds the module's optimizer by calling its `configure_optimizers`
after everything the script did to the module before `fit`, then trains it.

The story runs the module's `configure_optimizers` at the `fit` call (its optimizer, and what it holds, are
recorded there), then lets the module escape into Lightning's training loop. It does so only where nothing
else of the module runs first: a module defining `setup` or `configure_model` (run by `fit` before the
optimizers, and free to freeze or add layers) is handed to Lightning unread, as before."""

from __future__ import annotations

from featlint.analysis.scopes import method_of
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import FunctionRef, Ref
from featlint.startup.deferred import cst

_ROOTS = ("lightning", "pytorch_lightning")
# Hooks `fit` runs before `configure_optimizers`.
_EARLIER_HOOKS = ("setup", "configure_model", "configure_sharded_model")


def is_trainer(name: str) -> bool:
    """`lightning.Trainer`, `lightning.pytorch.Trainer`, `pytorch_lightning.Trainer` (or their module paths)."""
    return name.split(".")[0] in _ROOTS and name.rsplit(".", 1)[-1] == "Trainer"


class LightningCalls(Recorder):
    def _fit(self, call: cst.Call, args: list[object], frame: Frame) -> None:
        _, module = self._arg(call, args, 0, "model")
        cls = module.model.user_class if isinstance(module, Ref) and not module.path else None
        if cls is not None and not any(method_of(cls, hook) for hook in _EARLIER_HOOKS):
            configure = method_of(cls, "configure_optimizers")
            if configure is not None:
                self._invoke(FunctionRef(configure, module), call, [], frame)
        self._escape(call, args, frame)
