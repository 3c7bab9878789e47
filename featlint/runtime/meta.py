"""`featlint run --device meta`: build the script's models on the meta device, where a vit_h_14 takes no
memory and a fraction of a second, and keep them there.

Meta tensors have shapes but no values, so everything that depends only on structure (which parameters are
trainable, which an optimizer holds, which get a gradient) can still be checked; value comparisons cannot.
Four things need help: torchvision's regnet computes its widths with tensors and reads them back (not
possible on meta), scripts move models to "cuda"/"cpu" (a meta tensor cannot be copied out), data loading
makes and reads tensors (it runs on the CPU; its batches are moved to meta where a model is called, see
instrument.py), and scripts log `loss.item()` (it reads 0). Where a pipeline still fails on meta, the parent
runs one CPU step with tiny batches instead (`tiny_batches`, see command.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def regnet_on_cpu(regnet: Any) -> None:
    """Run regnet's width computation on the CPU whatever the default device; it only builds plain ints."""
    original = regnet.BlockParams.from_init_params.__func__

    def from_init_params(cls: type, *args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return original(cls, *args, **kwargs)

    regnet.BlockParams.from_init_params = classmethod(from_init_params)  # type: ignore[method-assign]


def keep_models_on_meta() -> None:
    """`model.to(device)`, `.cuda()` and `.cpu()` leave a model on meta (a dtype change still applies)."""
    original_to = nn.Module.to

    def to(self: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        _device, dtype, _non_blocking, _memory_format = torch._C._nn._parse_to(*args, **kwargs)
        return original_to(self, dtype=dtype) if dtype is not None else self

    def stay(self: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        return self

    nn.Module.to = to  # type: ignore[method-assign]
    nn.Module.cuda = stay  # type: ignore[method-assign]
    nn.Module.cpu = stay  # type: ignore[method-assign]


def data_on_cpu() -> None:
    """Data loading makes tensors with factory functions (a RandomSampler's seed, a random crop's size, read
    back with `.item()`): it runs on the CPU, in the script's process and in DataLoader workers."""
    from torch.utils.data import dataloader
    from torch.utils.data._utils import worker

    dataloader.DataLoader.__iter__ = _on_cpu(dataloader.DataLoader.__iter__)  # type: ignore[method-assign]
    dataloader._BaseDataLoaderIter.__next__ = _on_cpu(dataloader._BaseDataLoaderIter.__next__)  # type: ignore[method-assign]
    worker._worker_loop = _on_cpu(worker._worker_loop)


def readable_values(notes: list[str], is_user: Callable[[str], bool]) -> None:
    """Data made on the meta device stays there when the script moves it (`.to(device)`, `.cpu()`, `.cuda()`:
    the model is on meta too), and `loss.item()`, `float(loss)`, `if loss < best:`, `.numpy()` read 0 instead
    of failing: logging and metrics code must not end the script. The report says so once a value is read."""
    tensor = torch.Tensor

    def on_meta(original: Any, instead: Any, read: bool = True) -> Any:
        def method(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if not self.is_meta:
                return original(self, *args, **kwargs)
            if read and NOTE not in notes:
                notes.append(NOTE)
            return instead(self, *args, **kwargs)
        return method

    def stay(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return t

    def to(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        dtype = _dtype(args, kwargs)
        return torch.empty_like(t, dtype=dtype, device="meta") if dtype is not None and dtype != t.dtype else t

    def zeros(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.zeros(t.shape, dtype=t.dtype, device="cpu")

    def zero_item(t: torch.Tensor) -> Any:
        return False if t.dtype == torch.bool else (0.0 if t.is_floating_point() or t.is_complex() else 0)

    original_to, original_cuda = tensor.to, tensor.cuda

    def moving(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The script's own `targets.to(device)` on a CPU batch: to meta, where the model's outputs are (data
        loading and libraries keep their CPU tensors)."""
        device = any(isinstance(a, (str, torch.device)) for a in args) or "device" in kwargs
        if device and is_user(sys._getframe(2).f_code.co_filename):
            dtype = _dtype(args, kwargs)
            return original_to(t, "meta", dtype) if dtype is not None else original_to(t, "meta")
        return original_to(t, *args, **kwargs)

    def cuda(t: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if is_user(sys._getframe(2).f_code.co_filename):
            return original_to(t, "meta")
        return original_cuda(t, *args, **kwargs)

    tensor.to = on_meta(moving, to, read=False)  # type: ignore[method-assign]
    tensor.cpu = on_meta(tensor.cpu, stay, read=False)  # type: ignore[method-assign]
    tensor.cuda = on_meta(cuda, stay, read=False)  # type: ignore[method-assign]
    tensor.__format__ = on_meta(tensor.__format__, lambda t, spec: format(zero_item(t), spec) if t.dim() == 0  # type: ignore[method-assign]
                                else object.__format__(t, ""))
    tensor.item = on_meta(tensor.item, zero_item)  # type: ignore[method-assign]
    tensor.tolist = on_meta(tensor.tolist, lambda t: zeros(t).tolist())  # type: ignore[method-assign]
    tensor.numpy = on_meta(tensor.numpy, lambda t, *a, **k: zeros(t).numpy())  # type: ignore[method-assign]
    tensor.__bool__ = on_meta(tensor.__bool__, lambda t: False)  # type: ignore[method-assign]
    tensor.__float__ = on_meta(tensor.__float__, lambda t: 0.0)  # type: ignore[method-assign]
    tensor.__int__ = on_meta(tensor.__int__, lambda t: 0)  # type: ignore[method-assign]


def _dtype(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.dtype | None:
    """The dtype a `.to(...)` call asks for, if any (`.to(torch.float16)`, `.to(device, dtype)`, `.to(other)`)."""
    dtype = next((a for a in args if isinstance(a, torch.dtype)), kwargs.get("dtype"))
    if dtype is None and args and isinstance(args[0], torch.Tensor):
        dtype = args[0].dtype
    return dtype


NOTE = "meta device: values read from meta tensors (`loss.item()`, `.numpy()`) were 0; the script's metrics mean nothing"
TINY_BATCH = 2  # BatchNorm needs more than one value per channel in training mode


def tiny_batches() -> None:
    """The CPU step that replaces a meta run the data pipeline could not do: every DataLoader yields batches
    of at most TINY_BATCH, loaded in the script's own process."""
    import inspect

    from torch.utils.data import DataLoader

    original = DataLoader.__init__
    signature = inspect.signature(original)

    def __init__(self: DataLoader, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return original(self, *args, **kwargs)
        given = bound.arguments
        if given.get("batch_sampler") is None and (given.get("batch_size") or 0) > TINY_BATCH:
            given["batch_size"] = TINY_BATCH
        given["num_workers"] = 0
        given.pop("prefetch_factor", None)
        given.pop("persistent_workers", None)
        original(*bound.args, **bound.kwargs)

    DataLoader.__init__ = __init__  # type: ignore[method-assign]


_loading = 0  # > 0 while data loading runs, in the script's process or a DataLoader worker


def _on_cpu(method: Any) -> Any:
    """Data loading on the CPU, and its modules left alone: a transform such as torchvision's Normalize is an
    nn.Module called at the top level, which must not move its image to meta (the tracker's `to_meta`); the
    batch goes to meta where the script calls its model. In a worker, torch 2.1 could not even collate the
    meta images (`elem.new(storage)` with a CPU shared-memory storage)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _loading
        _loading += 1
        try:
            with torch.device("cpu"):
                return method(*args, **kwargs)
        finally:
            _loading -= 1

    return wrapper


def install(notes: list[str], is_user: Callable[[str], bool]) -> None:
    from featlint.runtime.hooks import after_import

    after_import("torchvision.models.regnet", regnet_on_cpu)
    keep_models_on_meta()
    data_on_cpu()
    readable_values(notes, is_user)
    torch.set_default_device("meta")


def to_meta(value: Any) -> Any:
    if _loading:
        return value
    if isinstance(value, torch.Tensor):
        return value if value.device.type == "meta" else value.to("meta")
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: to_meta(v) for k, v in value.items()}
    return value
