from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.architectures import covers
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class AuxHeadNotReplaced(Rule):
    """
    ## What it does
    Finds an inception_v3 or googlenet whose main head was replaced while its auxiliary heads
    (`AuxLogits.fc`; `aux1.fc2` and `aux2.fc2`) are on and were left as they are. Whether they are on
    follows torchvision: `inception_v3` keeps them even with weights, `googlenet` drops them with weights
    unless `aux_logits=True` is passed.

    ## Why is this bad?
    In train mode the model returns the auxiliary logits too, and the usual `loss + 0.4 * aux_loss` then
    trains an auxiliary head that still has 1000 outputs (or crashes on the class count); if only the main
    output is used, the auxiliary heads are dead weight computed on every step.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.inception_v3(weights=models.Inception_V3_Weights.DEFAULT)
    model.fc = nn.Linear(2048, 5)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.inception_v3(weights=models.Inception_V3_Weights.DEFAULT)
    model.AuxLogits.fc = nn.Linear(768, 5)
    model.fc = nn.Linear(2048, 5)
    ```
    """

    code = "FL303"
    name = "aux-head-not-replaced"
    severity = Severity.WARNING
    summary = "inception_v3/googlenet head replaced while an auxiliary head still outputs the old classes"
    requires_tokens = ("inception", "googlenet")
    fires = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.googlenet(aux_logits=True)\n"
        "m.aux2.fc2 = nn.Linear(1024, 3)\nm.fc = nn.Linear(1024, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.googlenet()\nm.fc = nn.Linear(1024, 3)\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.inception_v3(aux_logits=False)\n"
        "m.fc = nn.Linear(2048, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.googlenet(weights='DEFAULT')\n"
        "m.fc = nn.Linear(1024, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.inception_v3()\nm.AuxLogits.fc = nn.Linear(768, 3)\n"
        "m.fc = nn.Linear(2048, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.inception_v3()\nm.aux_logits = False\n"
        "m.AuxLogits = None\nm.fc = nn.Linear(2048, 3)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        archs = ctx.analysis.architectures
        for assignment in archs.assignments():
            located = assignment.located
            arch = tv.architecture(located.builder)
            if arch is None or not arch.aux or not covers(located.path, arch.head):
                continue
            assigned = archs.assigned_paths(located)
            if "aux_logits" in assigned or (arch.aux_param and arch.aux_param in assigned):
                continue
            for aux in arch.aux.values():
                if any(covers(path, aux.head) or covers(aux.head, path) for path in assigned):
                    continue
                if not all(archs.has_aux_head(origin, aux, arch) for origin in located.origins):
                    continue
                head = arch.layer(aux.head)
                size = head.in_size if head is not None else "..."
                yield ctx.report(
                    self, assignment.target,
                    f"{located.builder.name}'s auxiliary head `{tv.display_path(aux.head)}` still outputs 1000 "
                    f"classes after `{tv.display_path(located.path)}` was replaced: train mode returns its logits "
                    f"too; replace it as well (`nn.Linear({size}, ...)`) or build with `{arch.aux_param}=False`",
                )
