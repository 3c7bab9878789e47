"""`featlint run --device meta`: build the script's models on the meta device, where a vit_h_14 takes no
memory and a fraction of a second, and keep them there.

Meta tensors have shapes but no values, so everything that depends only on structure (which parameters are
trainable, which an optimizer holds, which get a gradient) can still be checked; value comparisons cannot.
Three things need help: torchvision's regnet computes its widths with tensors and reads them back (not
possible on meta), scripts move models to "cuda"/"cpu" (a meta tensor cannot be copied out), and data
arrives on the CPU (moved to meta where a model is called, see instrument.py).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def regnet_on_cpu() -> None:
    """Run regnet's width computation on the CPU whatever the default device; it only builds plain ints."""
    from torchvision.models import regnet

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
    """Data loading creates index tensors with factory functions: keep them off the meta default device."""
    from torch.utils.data import dataloader

    for name in ("__init__", "__next__"):
        setattr(dataloader._BaseDataLoaderIter, name, _on_cpu(getattr(dataloader._BaseDataLoaderIter, name)))


def _on_cpu(method: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return method(*args, **kwargs)

    return wrapper


def install() -> None:
    regnet_on_cpu()
    keep_models_on_meta()
    data_on_cpu()
    torch.set_default_device("meta")


def to_meta(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value if value.device.type == "meta" else value.to("meta")
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: to_meta(v) for k, v in value.items()}
    return value
