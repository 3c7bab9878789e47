"""`audit(model, optimizer)`: one real training step on a private copy, reported like the linter reports.

The user's model and optimizer are deep-copied together (so the copied optimizer holds the copied
parameters) and the global random state is forked, so after `audit` returns everything the user owns is
exactly as it was: values, gradients, optimizer state, train/eval modes.
"""

from __future__ import annotations

import collections
import copy
import sys
from collections.abc import Callable, Sequence

import torch
from torch import nn

from featlint.runtime import collect
from featlint.runtime.findings import Observation, Site, evaluate
from featlint.runtime.inputs import NeedsExampleInput, default_loss, describe, to_device
from featlint.runtime.inputs import example_input as make_example_input
from featlint.runtime.report import Report

Optimizers = torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None


def audit(
    model: nn.Module,
    optimizer: Optimizers = None,
    example_input: object = None,
    *,
    loss_fn: Callable[[object], torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
) -> Report:
    """Run one forward, backward and optimizer step on a copy of `model` and `optimizer` and report which
    parameters are trainable, held by an optimizer (group and lr), got a gradient and changed.

    `example_input` is passed to the model as is (a tuple is unpacked, a dict passed as keywords); without
    it an input is made from what the model says about itself (see :mod:`featlint.runtime.inputs`), and where
    that is not enough, or the model does not take the input made, NeedsExampleInput (a ValueError) asks for
    one: a failing forward is only reported (FL704) on the caller's own input. `loss_fn(output)` must return a
    scalar; the default is the
    mean square of every floating-point output. The step runs in the modes the modules are in now (a new
    model is in training mode), so BatchNorm layers behave as they would in the user's training loop.
    On `device="meta"` nothing is allocated: values are not compared, everything else is checked.
    """
    caller = sys._getframe(1)
    site = Site(caller.f_code.co_filename, caller.f_lineno)
    optimizers = _as_list(optimizer)
    target = torch.device(device)
    if any(p.device.type == "meta" for p in model.parameters()):
        target = torch.device("meta")  # a meta model has no values to move anywhere else
    cuda = [target.index or 0] if target.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        work_model, work_optimizers = _private_copy(model, optimizers, target)
        return _step(work_model, work_optimizers, example_input, loss_fn, target, site)


def _as_list(optimizer: Optimizers) -> list[torch.optim.Optimizer]:
    if optimizer is None:
        return []
    if isinstance(optimizer, torch.optim.Optimizer):
        return [optimizer]
    return list(optimizer)


def _private_copy(
    model: nn.Module, optimizers: list[torch.optim.Optimizer], device: torch.device
) -> tuple[nn.Module, list[torch.optim.Optimizer]]:
    model_copy, optimizers_copy = copy.deepcopy((model, optimizers))
    for original, copied in zip(model.parameters(), model_copy.parameters()):
        if original.grad is not None:
            # deepcopy leaves gradients behind. Where the user's parameter has one, the copy gets a zero
            # tensor, as the next step sees it after `zero_grad(set_to_none=False)`: an optimizer still steps
            # with it (momentum, weight decay), which it does not with None.
            copied.grad = torch.zeros_like(original.grad)
    before = dict(model_copy.named_parameters())
    model_copy.to(device)
    # Moving between devices of different kinds (cpu -> meta, cpu -> cuda) makes new Parameter objects: the
    # copied optimizers must hold those, with their state moved along.
    renamed = {id(before[name]): param for name, param in model_copy.named_parameters()}
    for optimizer in optimizers_copy:
        for group in optimizer.param_groups:
            group["params"] = [renamed.get(id(p), p) for p in group["params"]]
        state = {}
        for param, values in optimizer.state.items():
            state[renamed.get(id(param), param)] = {
                key: value.to(device) if isinstance(value, torch.Tensor) and key != "step" else value
                for key, value in values.items()
            }
        optimizer.state = collections.defaultdict(dict, state)
    return model_copy, optimizers_copy


def _step(
    model: nn.Module,
    optimizers: list[torch.optim.Optimizer],
    example_input: object,
    loss_fn: Callable[[object], torch.Tensor] | None,
    device: torch.device,
    site: Site,
) -> Report:
    models = {"model": model}
    named = collect.named_parameters(models)
    by_name = dict(named)
    members = collect.membership(optimizers)
    notes = []
    values = device.type != "meta"
    if not values:
        notes.append("meta device: parameter values were not compared (run on cpu or cuda for FL702/FL703)")
    params_before = collect.snapshot(by_name)
    batchnorms = collect.frozen_batchnorm_buffers(models)
    batchnorms_before = collect.snapshot(batchnorms)
    guessed = example_input is None
    inputs = make_example_input(model) if guessed else to_device(example_input, device)
    observation = Observation(
        rows=[], optimizers=collect.optimizer_infos(optimizers, list(by_name.values()), [None] * len(optimizers)),
        steps=0, values_compared=values, forward_site=site, step_site=site, fallback=site,
    )
    got_grad = changed = None
    reached: set[int] = set()
    stack = collect.LayerStack()
    try:
        with stack.watching(model):
            output = _call(model, inputs)
    except Exception as error:  # noqa: BLE001 - a failing forward is the finding FL704, not a crash
        if guessed:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise NeedsExampleInput(
                f"{type(model).__name__} did not take the input audit made for it ({describe(inputs)}): "
                f"{type(error).__name__}: {first}; pass example_input=, a batch as your training loop feeds it"
            ) from error
        failed_module, failed_inputs = stack.failed or (model, inputs)
        layer = collect.module_paths(model).get(id(failed_module), "")
        observation.forward_error = collect.forward_error(layer, failed_module, failed_inputs, error)
    else:
        loss = loss_fn(output) if loss_fn is not None else default_loss(output)
        with collect.gradient_flow(by_name.values(), reached):
            if loss.requires_grad:
                loss.backward()
            else:
                notes.append("the loss does not require grad: no parameter that the forward used is trainable")
        got_grad = {id(p): id(p) in reached for p in by_name.values()}
        observation.changed_batchnorms = collect.changed_layers(collect.differs(batchnorms_before, batchnorms))
        for optimizer in optimizers:
            optimizer.step()
        if values and optimizers:
            moved = collect.differs(params_before, by_name)
            changed = {id(by_name[name]): moved[name] for name in moved}
        observation.steps = 1
    if not optimizers:
        notes.append("no optimizer given: optimizer membership and changes were not checked")
    observation.rows = collect.rows(named, members, got_grad, changed)
    observation.frozen_changed = [r.name for r in observation.rows if not r.requires_grad and r.changed]
    return Report.of(observation.rows, evaluate(observation), collect.module_kinds(models), notes, observation.steps,
                     collect.adapter_counts(models))


def _call(model: nn.Module, inputs: object) -> object:
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)) and not hasattr(inputs, "_fields"):
        return model(*inputs)
    return model(inputs)
