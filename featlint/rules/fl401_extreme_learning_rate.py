from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from featlint.analysis.scopes import Scope
from featlint.analysis.values import Number
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# The largest learning rate each torch.optim optimizer can train with. Adaptive methods (Adam and kin,
# RMSprop) normalise the step, so 0.1 is already huge; Adadelta and LBFGS take steps on a scale of 1.
DEFAULT_MAX_LR: Mapping[str, float] = MappingProxyType({
    "SGD": 1.0, "ASGD": 1.0, "Adagrad": 1.0, "Rprop": 1.0, "Adafactor": 1.0, "Muon": 1.0,
    "Adam": 0.1, "AdamW": 0.1, "Adamax": 0.1, "NAdam": 0.1, "RAdam": 0.1, "SparseAdam": 0.1, "RMSprop": 0.1,
    "Adadelta": 10.0, "LBFGS": 10.0,
})
# A value a user would try first, by optimizer, for the message.
_TYPICAL = {"Adadelta": "1.0", "LBFGS": "1.0"}


@dataclasses.dataclass(frozen=True)
class ExtremeLearningRateOptions:
    # Learning rates below this cannot move the weights in any reasonable number of steps.
    min_lr: float = 1e-7
    # Per optimizer class name; a table in the config is merged over the defaults.
    max_lr: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MAX_LR))


def _format(value: float) -> str:
    return f"{value:g}"


class ExtremeLearningRate(Rule):
    """
    ## What it does
    Finds a learning rate that cannot train: zero or negative, below `1e-7`, or far above what the optimizer
    tolerates (above 1 for SGD-like optimizers, above 0.1 for Adam, AdamW, RAdam, NAdam, Adamax and RMSprop,
    above 10 for Adadelta and LBFGS, whose usual rate is 1). The value may be written at the call, in a
    module-level constant, as an argparse default read through `args.lr`, or in a param-group dict.

    ## Why is this bad?
    Too large a rate makes the loss jump to `inf`/`NaN` within a few steps and destroys the pretrained
    features; zero or a tiny rate leaves the weights where they are, so training runs for hours and learns
    nothing. Both usually come from a typo in an exponent (`1e2` for `1e-2`) or a sign.

    ## Example
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e2)
    ```

    ## Use instead
    ```python
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ```

    ## Options
    `[tool.featlint.extreme-learning-rate]`: `min-lr` (default `1e-7`) and `max-lr`, a table of optimizer
    class names to their largest acceptable rate, merged over the defaults
    (`max-lr = { SGD = 2.0 }`).
    """

    code = "FL401"
    name = "extreme-learning-rate"
    severity = Severity.WARNING
    summary = "A learning rate that cannot train: zero, negative, tiny, or far too large for the optimizer"
    Options = ExtremeLearningRateOptions
    # Optimizers resolve to torch.optim.*: an import or attribute spells `optim` (also in `add_param_group`).
    requires_tokens = ("optim",)
    fires = (
        "import torch\nopt = torch.optim.SGD(params, lr=10)\n",
        "from torch.optim import Adam\nopt = Adam(params, 0.5)\n",
        "import torch.optim as optim\nLR = 0\nopt = optim.AdamW(params, lr=LR)\n",
        "import torch\nopt = torch.optim.SGD([{'params': a, 'lr': 1e-9}, {'params': b}], lr=0.01)\n",
        "import argparse\nimport torch\np = argparse.ArgumentParser()\n"
        "p.add_argument('--learning-rate', type=float, default=5.0)\nargs = p.parse_args()\n"
        "opt = torch.optim.SGD(params, lr=args.learning_rate)\n",
        "import torch\nopt = torch.optim.SGD(params, lr=0.01)\nopt.add_param_group({'params': head, 'lr': 100})\n",
        "import torch\nopt = torch.optim.Adam(params, lr=-1e-3)\n",
        "import torch\nBASE = 1e-2\nopt = torch.optim.Adam(params, lr=BASE * 100)\n",
    )
    silent = (
        "import torch\nopt = torch.optim.SGD(params, lr=0.01, momentum=0.9)\n",
        "import torch\nopt = torch.optim.Adam(params, lr=3e-4)\n",
        "import torch\nopt = torch.optim.Adadelta(params, lr=1.0)\n",
        "import torch\nopt = torch.optim.LBFGS(params, lr=1)\n",
        "import torch\nopt = torch.optim.SGD(params, lr=0.1)\n"
        "sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=10.0, total_steps=100)\n",
        "import torch\nopt = torch.optim.SGD(params, lr=args.lr)\n",
        "import torch\nlr = 0.1\nlr = 100\nopt = torch.optim.SGD(params, lr=lr)\n",
        "opt = SGD(params, lr=100)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for site in ctx.analysis.facts.calls:
            call = site.node
            optimizer = self._optimizer_class(ctx, call.func, site.scope)
            if optimizer is not None:
                positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
                lr = next((a.value for a in call.args if a.keyword and a.keyword.value == "lr"), None)
                if lr is None and len(positional) >= 2:
                    lr = positional[1].value
                if lr is not None:
                    yield from self._check_value(ctx, optimizer, lr, site.scope)
                if positional:
                    yield from self._check_groups(ctx, optimizer, positional[0].value, site.scope)
            elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_param_group" and call.args:
                owner = self._constructed_optimizer(ctx, call.func.value, site.scope)
                if owner is not None:
                    yield from self._check_groups(ctx, owner, call.args[0].value, site.scope)

    def _optimizer_class(self, ctx: FileContext, func: cst.BaseExpression, scope: Scope) -> str | None:
        name = ctx.analysis.names.qualified_name(func, scope)
        if name is None or not name.startswith("torch.optim."):
            return None
        short = name.rsplit(".", 1)[-1]
        return short if short in DEFAULT_MAX_LR or short in self.options.max_lr else None

    def _constructed_optimizer(self, ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> str | None:
        if not isinstance(expr, cst.Name):
            return None
        bindings = scope.lookup(expr.value)
        if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].element:
            return None
        value = bindings[0].value
        if not isinstance(value, cst.Call):
            return None
        return self._optimizer_class(ctx, value.func, bindings[0].scope)

    def _check_groups(
        self, ctx: FileContext, optimizer: str, params: cst.BaseExpression, scope: Scope
    ) -> Iterator[Diagnostic]:
        groups = [e.value for e in params.elements] if isinstance(params, (cst.List, cst.Tuple)) else [params]
        for group in groups:
            if not isinstance(group, cst.Dict):
                continue
            for element in group.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    if element.key.evaluated_value == "lr":
                        yield from self._check_value(ctx, optimizer, element.value, scope)

    def _check_value(
        self, ctx: FileContext, optimizer: str, expr: cst.BaseExpression, scope: Scope
    ) -> Iterator[Diagnostic]:
        number = ctx.analysis.values.number(expr, scope)
        if number is None:
            return
        problem = self._problem(optimizer, number.value)
        if problem is not None:
            yield ctx.report(self, expr, f"lr={_format(number.value)}{self._origin(ctx, number)} {problem}")

    def _problem(self, optimizer: str, value: float) -> str | None:
        typical = _TYPICAL.get(optimizer, "1e-3" if DEFAULT_MAX_LR.get(optimizer, 1.0) < 1 else "0.01")
        if value <= 0:
            return f"never moves the weights ({optimizer} needs a positive rate): nothing trains; use e.g. {typical}"
        if value < self.options.min_lr:
            return (
                f"is below {_format(self.options.min_lr)}: the weights barely move and nothing trains; "
                f"use e.g. {typical}"
            )
        ceiling = self.options.max_lr.get(optimizer, DEFAULT_MAX_LR.get(optimizer))
        if ceiling is not None and value > ceiling:
            return (
                f"is far above what {optimizer} tolerates (> {_format(ceiling)}): the loss diverges to NaN "
                f"and every weight it updates (pretrained or not) is wrecked; use e.g. {typical}"
            )
        return None

    @staticmethod
    def _origin(ctx: FileContext, number: Number) -> str:
        if number.origin is None:
            return ""
        return f" ({number.origin_label} on {ctx.where(number.origin)})"
