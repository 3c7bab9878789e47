from featlint.diagnostics import Severity
from featlint.rules.base import RuntimeRule


class FrozenBatchnormStatsChanged(RuntimeRule):
    """
    ## What it does
    Records the running statistics (`running_mean`, `running_var`) of every BatchNorm layer whose parameters
    are all frozen before the forward passes of a training step, and reports those that changed by the
    time `optimizer.step()` is called. It points at the user's `train()` call that put them in training mode
    (or at the training forward when the model was never put in a mode). Off by default, like its static
    twin FL501: some recipes freeze a backbone's weights and want its statistics to adapt to the new data
    (the classic "freeze the backbone, train the head" recipe does exactly this), so the finding is a
    question to ask, not always a mistake; select it with `--extend-select FL703` (or `FL501` for the
    static check) where the statistics must stay those of pretraining.

    ## Why is this bad?
    `requires_grad=False` freezes a BatchNorm layer's weight and bias, not its running statistics: those are
    buffers that every forward in training mode overwrites. A "frozen" backbone in `model.train()` mode
    keeps drifting towards the statistics of your small dataset, and the pretrained features change
    although no parameter does.

    ## Example
    ```python
    import torch
    import torch.nn as nn
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    model.train()
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
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.01)
    model.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()
    images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 1])
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    ```
    """

    code = "FL703"
    name = "frozen-batchnorm-stats-changed"
    severity = Severity.WARNING
    default_enabled = False
    summary = "BatchNorm running statistics changed inside a module whose parameters are all frozen"
