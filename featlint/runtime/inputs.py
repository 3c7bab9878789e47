"""An example batch and a loss for a model the caller gave no data for.

The values do not matter (trainability, gradients and optimizer membership do not depend on them); the
shapes must be ones the architecture accepts: 299x299 for Inception v3, a Vision Transformer's own
`image_size`, 224x224 for the other image models, and the input width of a model that starts with a Linear.
"""

from __future__ import annotations

import torch
from torch import nn

BATCH = 2  # BatchNorm needs more than one value per channel in training mode
DEFAULT_IMAGE_SIZE = 224


def image_size(model: nn.Module) -> int:
    declared = getattr(model, "image_size", None)  # torchvision's VisionTransformer
    if isinstance(declared, int):
        return declared
    if type(model).__name__ == "Inception3":
        return 299
    return DEFAULT_IMAGE_SIZE


def example_input(model: nn.Module, batch: int = BATCH) -> torch.Tensor:
    first = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    if isinstance(first, nn.Linear):
        return torch.randn(batch, first.in_features, device=device, dtype=dtype)
    channels = first.in_channels if isinstance(first, nn.Conv2d) else 3
    size = image_size(model)
    return torch.randn(batch, channels, size, size, device=device, dtype=dtype)


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
