from featlint.diagnostics import Severity
from featlint.rules.base import RuntimeRule


class NoGradient(RuntimeRule):
    """
    ## What it does
    Runs a real training step (`featlint run`, or `featlint.runtime.audit` in a test) and reports the
    trainable parameters that never received a gradient: the layer that holds them is not used by the
    model's forward, or its output does not reach the loss.

    ## Why is this bad?
    A layer the forward never calls trains nothing. The usual cause is a new head assigned to an attribute
    the architecture does not call (`model.fc` on a VGG, MobileNet or EfficientNet, whose head is
    `classifier`): the model keeps its old 1000-class output, the new layer stays at its random
    initialisation, and the script runs without an error. Only running the model shows this for models
    that static analysis cannot see into.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.mobilenet_v3_small(weights=None)
    model.fc = nn.Linear(1024, 10)  # mobilenet's forward never calls `fc`
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

    model = torchvision.models.mobilenet_v3_small(weights=None)
    model.classifier[3] = nn.Linear(1024, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    ```
    """

    code = "FL701"
    name = "no-gradient"
    severity = Severity.ERROR
    summary = "Trainable parameters got no gradient in a real training step: their layer is not used in forward"
