from featlint.diagnostics import Severity
from featlint.rules.base import RuntimeRule


class ForwardFailed(RuntimeRule):
    """
    ## What it does
    Reports a forward pass of the model that raised (a shape or device mismatch), naming the layer that
    failed, the shape it received and the size it expected, and pointing at the line that created or
    assigned that layer.

    ## Why is this bad?
    PyTorch's error names two matrix shapes (`mat1 and mat2 shapes cannot be multiplied (2x512 and
    2048x10)`) but not the layer, and it comes after the data loading that precedes the first batch. The
    layer is almost always the head you replaced, sized for another architecture.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(2048, 10)  # resnet18's fc receives 512 features
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    ```

    ## Use instead
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    ```
    """

    code = "FL704"
    name = "forward-failed"
    severity = Severity.ERROR
    summary = "The forward pass failed (shape or device mismatch): the layer, its input and what it expected"
