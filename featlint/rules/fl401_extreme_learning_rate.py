from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from featlint.analysis.lr_setting import LrSetting, lr_setting
from featlint.analysis.scopes import Scope
from featlint.analysis.story import EventKind
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
# How much more a few trained parameters next to a frozen base tolerate (prompt tuning trains at 0.3-1 with AdamW).
PARTIAL_FACTOR = 10
# Optimizers whose step is normalised by the gradient's scale: the rate bounds how far each weight moves.
_NORMALISED = frozenset({"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SparseAdam", "RMSprop"})
# A value a user would try first, by optimizer, for the message.
_TYPICAL = {"Adadelta": "1.0", "LBFGS": "1.0"}


@dataclasses.dataclass(frozen=True)
class ExtremeLearningRateOptions:
    # Learning rates below this cannot move the weights in any reasonable number of steps.
    min_lr: float = 1e-7
    # Per optimizer class name; a table in the config is merged over the defaults.
    max_lr: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MAX_LR))


@dataclasses.dataclass(frozen=True)
class _Case:
    """What a rate is judged against: the optimizer, how the script sets rates, and what trains."""

    optimizer: str
    setting: LrSetting
    partial: bool  # only part of the model trains (adapters, or a frozen base): it tolerates PARTIAL_FACTOR x more
    pretrained: bool  # pretrained weights train, so a diverging rate destroys them


def _format(value: float) -> str:
    return f"{value:g}"


class ExtremeLearningRate(Rule):
    """
    ## What it does
    Finds a learning rate that cannot train: zero or negative, below `1e-7`, or far above what the optimizer
    tolerates (above 1 for SGD-like optimizers, above 0.1 for Adam, AdamW, RAdam, NAdam, Adamax and RMSprop,
    above 10 for Adadelta and LBFGS, whose usual rate is 1). The value may be written at the call, in a
    module-level constant, as an argparse default read through `args.lr`, or in a param-group dict.

    The value at the call is judged as the rate that trains, so it is left alone where the script decides the
    rate otherwise: a zero or tiny rate is fine when the script sets `param_group["lr"]` itself or uses
    OneCycleLR/CyclicLR (which set the rate outright), and a tiny one when a LambdaLR, MultiplicativeLR or
    warm-up schedule multiplies it. When only part of the model trains, adapters (the file uses PEFT, whose
    prompt-tuning and adapter methods train at rates up to 1) or what is left trainable of a frozen base, a
    rate counts as too large only above 10 times the optimizer's ceiling.

    ## Why is this bad?
    Too large a rate makes the loss jump to `inf`/`NaN` within a few steps (and, when a pretrained model
    trains, destroys the pretrained features); zero or a tiny rate leaves the weights where they are, so training runs for hours and learns
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
        # A multiplying schedule cannot lift a zero rate.
        "import torch\nopt = torch.optim.SGD(params, lr=0)\n"
        "sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, step / 100))\n",
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "opt = torch.optim.Adam(m.parameters(), lr=0.5)\n",
        # Even with a frozen base, 100 is no rate for SGD.
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.SGD(m.fc.parameters(), lr=100)\n",
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
        # A hand-written schedule sets the rate in the loop.
        "import torch\nopt = torch.optim.SGD(params, lr=0)  # set below\nfor step in range(100):\n"
        "    for group in opt.param_groups:\n        group['lr'] = 0.1 * min(1.0, step / 10)\n",
        "import torch\nopt = torch.optim.SGD(params, lr=0)\n"
        "sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)\n",
        "import torch\nopt = torch.optim.AdamW(params, lr=1e-9)\n"
        "sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1e5 * min(1.0, step / 100))\n",
        # Prompt tuning trains a few virtual tokens next to a frozen base, at rates up to 1.
        "import torch\nfrom peft import PromptTuningConfig, get_peft_model\n"
        "model = get_peft_model(base, PromptTuningConfig(task_type='CAUSAL_LM', num_virtual_tokens=8))\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1)\n",
        # A frozen backbone: only the new head trains.
        "import torch, torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\nm.requires_grad_(False)\n"
        "m.fc = torch.nn.Linear(512, 2)\nopt = torch.optim.Adam(m.fc.parameters(), lr=0.3)\n",
        "import torch\nfrom peft import LoraConfig, get_peft_model\nmodel = get_peft_model(base, LoraConfig(r=8))\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=0.3)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        setting = lr_setting(ctx.analysis.facts, ctx.analysis.names)
        for site in ctx.analysis.facts.calls:
            call = site.node
            optimizer = self._optimizer_class(ctx, call.func, site.scope)
            if optimizer is not None:
                case = _Case(optimizer, setting, *self._what_trains(ctx, call, setting))
                positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
                lr = next((a.value for a in call.args if a.keyword and a.keyword.value == "lr"), None)
                if lr is None and len(positional) >= 2:
                    lr = positional[1].value
                if lr is not None:
                    yield from self._check_value(ctx, case, lr, site.scope)
                if positional:
                    yield from self._check_groups(ctx, case, positional[0].value, site.scope)
            elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_param_group" and call.args:
                owner = self._constructed_optimizer(ctx, call.func.value, site.scope)
                if owner is not None:
                    case = _Case(owner, setting, setting.adapters, pretrained=False)
                    yield from self._check_groups(ctx, case, call.args[0].value, site.scope)

    @staticmethod
    def _what_trains(ctx: FileContext, call: cst.Call, setting: LrSetting) -> tuple[bool, bool]:
        """(only part trains: adapters or a frozen base; pretrained weights train), from the model story where
        it follows this optimizer."""
        story = ctx.analysis.story
        built = next((e for e in story.of(EventKind.OPTIMIZER) if e.optimizer and e.optimizer.node is call), None)
        if built is None or built.optimizer is None:
            return setting.adapters, False
        held = list(built.optimizer.holdings())
        frozen = any(f.value is False for p in held for f in story.freezes_before(*p.located(), built))
        return setting.adapters or frozen, any(story.trains_pretrained(p, built) for p in held)

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
        self, ctx: FileContext, case: _Case, params: cst.BaseExpression, scope: Scope
    ) -> Iterator[Diagnostic]:
        groups = [e.value for e in params.elements] if isinstance(params, (cst.List, cst.Tuple)) else [params]
        for group in groups:
            if not isinstance(group, cst.Dict):
                continue
            for element in group.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    if element.key.evaluated_value == "lr":
                        yield from self._check_value(ctx, case, element.value, scope)

    def _check_value(
        self, ctx: FileContext, case: _Case, expr: cst.BaseExpression, scope: Scope
    ) -> Iterator[Diagnostic]:
        number = ctx.analysis.values.number(expr, scope)
        if number is None:
            return
        problem = self._problem(case, number.value)
        if problem is not None:
            yield ctx.report(self, expr, f"lr={_format(number.value)}{self._origin(ctx, number)} {problem}")

    def _problem(self, case: _Case, value: float) -> str | None:
        optimizer = case.optimizer
        typical = _TYPICAL.get(optimizer, "1e-3" if DEFAULT_MAX_LR.get(optimizer, 1.0) < 1 else "0.01")
        if case.setting.sets:
            return None  # set again by hand or by OneCycleLR/CyclicLR: the value at the call is not the rate
        if value <= 0:
            return f"never moves the weights ({optimizer} needs a positive rate): nothing trains; use e.g. {typical}"
        if value < self.options.min_lr and not case.setting.scales:
            return (
                f"is below {_format(self.options.min_lr)}: the weights barely move and nothing trains; "
                f"use e.g. {typical}"
            )
        ceiling = self.options.max_lr.get(optimizer, DEFAULT_MAX_LR.get(optimizer))
        if ceiling is not None and case.partial:
            ceiling *= PARTIAL_FACTOR
        if ceiling is not None and value > ceiling:
            destroyed = " and the pretrained features are destroyed" if case.pretrained else ""
            if optimizer in _NORMALISED:
                effect = f"every step moves each weight by up to about {_format(value)}, so training diverges"
            else:
                effect = "the loss diverges to NaN within a few steps"
            part = " even when only part of the model trains" if case.partial else ""
            return (
                f"is far above what {optimizer} tolerates{part} (> {_format(ceiling)}): {effect}{destroyed}; "
                f"use e.g. {typical}"
            )
        return None

    @staticmethod
    def _origin(ctx: FileContext, number: Number) -> str:
        if number.origin is None:
            return ""
        return f" ({number.origin_label} on {ctx.where(number.origin)})"
