"""Reading a live model and its optimizers: parameter rows, optimizer membership, value snapshots, the
frozen BatchNorm layers, and which layer a failing forward was in. Shared by `audit` and the child of
`featlint run`; this is the torch side of :mod:`featlint.runtime.findings`."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence

import torch
from torch import nn

from featlint.runtime.findings import ForwardError, OptimizerInfo, Site
from featlint.runtime.report import AdapterCounts, ParamRow


@dataclasses.dataclass(frozen=True)
class Member:
    optimizer: int
    group: int
    lr: float | None


def named_parameters(models: Mapping[str, nn.Module]) -> list[tuple[str, nn.Parameter]]:
    """Every parameter once, named by its path; with several models the path starts with the model's label."""
    seen: set[int] = set()
    named = []
    for label, model in models.items():
        prefix = f"{label}." if len(models) > 1 else ""
        for name, param in model.named_parameters():
            if id(param) not in seen:
                seen.add(id(param))
                named.append((prefix + name, param))
    return named


def module_kinds(models: Mapping[str, nn.Module]) -> dict[str, str]:
    """The modules the table has a row for, with their class names: each model's children, or for a PEFT
    model the children of the model it wraps (`base_model.model.classifier`), not the one wrapper row that
    would hold everything."""
    kinds = {}
    for label, model in models.items():
        prefix = f"{label}." if len(models) > 1 else ""
        for name, child in _table_modules(model, prefix):
            kinds[name] = type(child).__name__
        if any(True for _ in model.parameters(recurse=False)):
            kinds["(root)" if not prefix else label] = type(model).__name__
    return kinds


def _table_modules(model: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    for name, child in model.named_children():
        if _is_peft(model) and name in ("base_model", "model"):  # PeftModel.base_model, a tuner's .model
            yield from _table_modules(child, f"{prefix}{name}.")
        else:
            yield prefix + name, child


def _is_peft(model: nn.Module) -> bool:
    return any(cls.__module__.split(".")[0] == "peft" for cls in type(model).__mro__)


def adapter_counts(models: Mapping[str, nn.Module]) -> list[AdapterCounts]:
    """PEFT's own trainable and total counts for each PEFT model (`print_trainable_parameters`' numbers)."""
    found = []
    for label, model in models.items():
        if not _is_peft(model):
            continue
        try:
            trainable, total = model.get_nb_trainable_parameters()
        except Exception:  # noqa: BLE001 - a PEFT version without it, or one that fails: the table still counts
            continue
        found.append(AdapterCounts(label, int(trainable), int(total)))
    return found


def membership(optimizers: Sequence[torch.optim.Optimizer]) -> dict[int, Member]:
    """id(parameter) -> the first optimizer and group holding it."""
    found: dict[int, Member] = {}
    for index, optimizer in enumerate(optimizers):
        for group_index, group in enumerate(optimizer.param_groups):
            lr = group.get("lr")
            lr = float(lr) if isinstance(lr, (int, float, torch.Tensor)) else None
            for param in group["params"]:
                found.setdefault(id(param), Member(index, group_index, lr))
    return found


def optimizer_infos(
    optimizers: Sequence[torch.optim.Optimizer], params: Sequence[nn.Parameter], sites: Sequence[Site | None]
) -> list[OptimizerInfo]:
    known = {id(p) for p in params}
    infos = []
    for optimizer, site in zip(optimizers, sites):
        held = [p for group in optimizer.param_groups for p in group["params"]]
        infos.append(OptimizerInfo(
            kind=type(optimizer).__name__, site=site, params=len(held),
            trainable=sum(1 for p in held if p.requires_grad), foreign=sum(1 for p in held if id(p) not in known),
        ))
    return infos


def rows(
    named: Sequence[tuple[str, nn.Parameter]],
    members: Mapping[int, Member],
    got_grad: Mapping[int, bool] | None = None,
    changed: Mapping[int, bool] | None = None,
) -> list[ParamRow]:
    out = []
    for name, param in named:
        member = members.get(id(param))
        out.append(ParamRow(
            name=name, shape=tuple(param.shape), numel=param.numel(), requires_grad=param.requires_grad,
            optimizer=member.optimizer if member else None, group=member.group if member else None,
            lr=member.lr if member else None,
            got_grad=None if got_grad is None else got_grad.get(id(param), False),
            changed=None if changed is None else changed.get(id(param)),
        ))
    return out


def comparable(tensor: torch.Tensor) -> bool:
    return tensor.device.type != "meta"


def snapshot(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Copies of the values, so that a later comparison sees what changed in between."""
    return {key: t.detach().clone() for key, t in tensors.items() if comparable(t)}


def differs(before: Mapping[str, torch.Tensor], now: Mapping[str, torch.Tensor]) -> dict[str, bool]:
    return {key: not torch.equal(before[key], now[key].detach()) for key in before if key in now}


def frozen_batchnorm_buffers(named_models: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """`<layer>.running_mean/var` of the BatchNorm layers whose own parameters all exist and are frozen:
    a layer without affine parameters is neither frozen nor trainable, so it is not judged."""
    buffers = {}
    for label, model in named_models.items():
        prefix = f"{label}." if len(named_models) > 1 else ""
        for name, module in model.named_modules():
            if not isinstance(module, nn.modules.batchnorm._BatchNorm) or not module.track_running_stats:
                continue
            params = list(module.parameters(recurse=False))
            if not params or any(p.requires_grad for p in params):
                continue
            for buffer_name in ("running_mean", "running_var"):
                tensor = getattr(module, buffer_name, None)
                if isinstance(tensor, torch.Tensor):
                    buffers[f"{prefix}{name}.{buffer_name}"] = tensor
    return buffers


def changed_layers(changed: Mapping[str, bool]) -> list[str]:
    return sorted({key.rsplit(".", 1)[0] for key, moved in changed.items() if moved})


def module_paths(model: nn.Module) -> dict[int, str]:
    return {id(module): name for name, module in model.named_modules()}


def tensor_shapes(values: object) -> tuple[tuple[int, ...], ...]:
    if isinstance(values, torch.Tensor):
        return (tuple(values.shape),)
    if isinstance(values, (list, tuple)):
        return tuple(shape for value in values for shape in tensor_shapes(value))
    if isinstance(values, dict):
        return tuple(shape for value in values.values() for shape in tensor_shapes(value))
    return ()


def expected_input(module: nn.Module) -> str | None:
    """What a layer takes, for the forward-failed message; None where it is not a simple size."""
    if isinstance(module, nn.Linear):
        return f"{module.in_features} input features"
    if isinstance(module, nn.modules.conv._ConvNd):
        return f"{module.in_channels} input channels"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return f"{module.num_features} features"
    return None


def forward_error(layer: str, module: nn.Module, inputs: object, error: BaseException) -> ForwardError:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return ForwardError(
        layer=layer, layer_repr=_short_repr(module), input_shapes=tensor_shapes(inputs),
        error=f"{type(error).__name__}: {first}", expected=expected_input(module),
    )


def _short_repr(module: nn.Module) -> str:
    extra = module.extra_repr()
    return f"{type(module).__name__}({extra})" if extra and len(extra) < 80 else type(module).__name__


@contextlib.contextmanager
def gradient_flow(params: Iterable[nn.Parameter], reached: set[int]) -> Iterator[None]:
    """Record in `reached` the id of every parameter a gradient flows into while the block runs: exact even
    where a stale zero gradient from an earlier step is already there."""
    handles = [
        param.register_hook(lambda grad, key=id(param): reached.add(key))
        for param in params if param.requires_grad
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class LayerStack:
    """The chain of modules running right now; when a forward raises, the innermost one is the culprit.

    Used as forward pre/post hooks on every submodule, so it costs nothing when the forward succeeds.
    """

    def __init__(self) -> None:
        self.stack: list[tuple[nn.Module, object]] = []
        self.failed: tuple[nn.Module, object] | None = None

    def pre(self, module: nn.Module, inputs: object) -> None:
        self.stack.append((module, inputs))

    def post(self, module: nn.Module, inputs: object, output: object) -> None:
        if self.stack:
            self.stack.pop()

    @contextlib.contextmanager
    def watching(self, model: nn.Module) -> Iterator[None]:
        handles = []
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(self.pre))
            handles.append(module.register_forward_hook(self.post))
        try:
            yield
        except BaseException:
            if self.stack and self.failed is None:
                self.failed = self.stack[-1]
            raise
        finally:
            for handle in handles:
                handle.remove()
