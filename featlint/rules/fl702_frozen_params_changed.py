from featlint.diagnostics import Severity
from featlint.rules.base import RuntimeRule


class FrozenParamsChanged(RuntimeRule):
    """
    ## What it does
    Compares every parameter with `requires_grad=False` before and after each `optimizer.step()` of a real
    run and reports those that changed.

    ## Why is this bad?
    Frozen is supposed to mean unchanged. An optimizer still moves a frozen parameter when it holds it and
    its gradient is a zero tensor rather than `None` (the parameter was frozen after the optimizer was
    built and gradients are cleared with `zero_grad(set_to_none=False)`, the default before PyTorch 2.0):
    momentum and weight decay keep changing it, slowly enough that nobody notices.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    for step in range(3):
        if step == 1:
            model.conv1.requires_grad_(False)
        optimizer.zero_grad(set_to_none=False)
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    for step in range(3):
        if step == 1:
            model.conv1.requires_grad_(False)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    ```
    """

    code = "FL702"
    name = "frozen-params-changed"
    severity = Severity.ERROR
    summary = "Parameters with requires_grad=False changed across an optimizer step"
