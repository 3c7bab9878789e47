"""An example batch and a loss for a model the caller gave no data for.

The values do not matter (trainability, gradients and optimizer membership do not depend on them); the
kind and shape must be ones the architecture accepts: a Hugging Face model's own dummy inputs (or token ids
or pixels from its config), a timm model's `input_size`, 299x299 for Inception v3, a Vision Transformer's
own `image_size`, 224x224 for other image models, integer token ids for a model whose first layer is an
Embedding, sequences for one that starts with an RNN, and the input width of one that starts with a Linear.
Where none of these applies, `audit` asks for `example_input=` instead of guessing (:class:`NeedsExampleInput`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

BATCH = 2  # BatchNorm needs more than one value per channel in training mode
DEFAULT_IMAGE_SIZE = 224
SEQUENCE = 16  # tokens or time steps of a made-up sequence
_INPUT_LAYERS = (nn.Embedding, nn.EmbeddingBag, nn.Linear, nn.modules.conv._ConvNd, nn.RNNBase)


class NeedsExampleInput(ValueError):
    """audit cannot make an input this model takes: the caller must pass one."""


def image_size(model: nn.Module) -> int:
    declared = getattr(model, "image_size", None)  # torchvision's VisionTransformer
    if isinstance(declared, int):
        return declared
    if type(model).__name__ == "Inception3":
        return 299
    return DEFAULT_IMAGE_SIZE


def example_input(model: nn.Module, batch: int = BATCH) -> object:
    """A batch `model` takes, chosen from what the model says about itself; NeedsExampleInput otherwise."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    hub = _hugging_face_input(model, batch, device, dtype) or _timm_input(model, batch, device, dtype)
    if hub is not None:
        return hub
    first = next((m for m in model.modules() if isinstance(m, _INPUT_LAYERS)), None)
    if isinstance(first, (nn.Embedding, nn.EmbeddingBag)):
        return torch.randint(0, first.num_embeddings, (batch, SEQUENCE), device=device)
    if isinstance(first, nn.Linear):
        return torch.randn(batch, first.in_features, device=device, dtype=dtype)
    if isinstance(first, nn.RNNBase):
        shape = (batch, SEQUENCE, first.input_size) if first.batch_first else (SEQUENCE, batch, first.input_size)
        return torch.randn(*shape, device=device, dtype=dtype)
    if isinstance(first, nn.modules.conv._ConvNd):
        size = image_size(model)
        spatial = {1: (SEQUENCE * 4,), 2: (size, size), 3: (8, size // 2, size // 2)}[len(first.kernel_size)]
        return torch.randn(batch, first.in_channels, *spatial, device=device, dtype=dtype)
    raise NeedsExampleInput(
        f"audit cannot tell what {type(model).__name__} takes (it starts with "
        f"{type(first).__name__ if first is not None else 'no layer audit knows'}): pass example_input=, a batch "
        "as your training loop feeds it")


def _hugging_face_input(model: nn.Module, batch: int, device: torch.device, dtype: torch.dtype) -> object:
    """A transformers model's dummy inputs (what it traces itself with), else ids or pixels from its config."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "main_input_name"):
        return None
    try:
        dummy = model.dummy_inputs
    except Exception:  # noqa: BLE001 - a model class without usable dummy inputs: fall back to the config
        dummy = None
    name = model.main_input_name
    # transformers' default dummy inputs are token ids whatever the model takes (a ViT's too): they count only
    # where they hold the model's main input.
    if (isinstance(dummy, Mapping) and name in dummy
            and all(isinstance(v, torch.Tensor) for v in dummy.values())):
        return {k: v.to(device) if not v.is_floating_point() else v.to(device, dtype) for k, v in dummy.items()}
    if name == "input_ids" and isinstance(getattr(config, "vocab_size", None), int):
        return {name: torch.randint(0, config.vocab_size, (batch, SEQUENCE), device=device)}
    if name == "pixel_values" and isinstance(getattr(config, "image_size", None), int):
        size, channels = config.image_size, getattr(config, "num_channels", 3)
        return {name: torch.randn(batch, channels, size, size, device=device, dtype=dtype)}
    return None


def _timm_input(model: nn.Module, batch: int, device: torch.device, dtype: torch.dtype) -> object:
    """A timm model's `pretrained_cfg["input_size"]` (channels, height, width)."""
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None)
    size = cfg.get("input_size") if isinstance(cfg, Mapping) else None
    if isinstance(size, (tuple, list)) and len(size) == 3 and all(isinstance(n, int) for n in size):
        return torch.randn(batch, *size, device=device, dtype=dtype)
    return None


def describe(inputs: object) -> str:
    """`2x3x224x224 float32` for the message that asks for example_input=."""
    if isinstance(inputs, torch.Tensor):
        return f"{'x'.join(map(str, inputs.shape))} {str(inputs.dtype).replace('torch.', '')}"
    if isinstance(inputs, Mapping):
        return ", ".join(f"{k}={describe(v)}" for k, v in inputs.items())
    return type(inputs).__name__


def floating_outputs(output: object) -> list[torch.Tensor]:
    """Every floating-point tensor in what a model returned: a tensor, a tuple such as InceptionOutputs,
    or a dict such as a segmentation model's {"out", "aux"}."""
    if isinstance(output, torch.Tensor):
        return [output] if output.is_floating_point() else []
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in floating_outputs(item)]
    if isinstance(output, dict):
        return [t for item in output.values() for t in floating_outputs(item)]
    return []


def default_loss(output: object) -> torch.Tensor:
    """A loss every output contributes to, so that every layer the forward uses gets a gradient."""
    tensors = floating_outputs(output)
    if not tensors:
        raise TypeError(f"the model returned {type(output).__name__}, with no floating-point tensor to train on; "
                        "pass loss_fn=")
    return sum((t.float().square().mean() for t in tensors), torch.zeros((), device=tensors[0].device))


def to_device(value: object, device: torch.device) -> object:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value) if not hasattr(value, "_fields") else value
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value
