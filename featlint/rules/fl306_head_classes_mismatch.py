from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from featlint.analysis import FileAnalysis
from featlint.analysis import torchvision as tv
from featlint.analysis.architectures import Assignment, NewLayer, covers
from featlint.analysis.calls import argument, keyword
from featlint.analysis.class_counts import count_of, declared_classes
from featlint.analysis.hubs import HubKind
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# A head put in by hand (`model.head = nn.Linear(...)`): then it, not `num_classes=`, sizes a timm model's output.
_HEAD_ASSIGNED = re.compile(r"\.(head|fc|classifier|last_linear|head\.fc)\s*=[^=]")
CROSS_ENTROPY = frozenset({"CrossEntropyLoss", "cross_entropy"})
# Layers after the last Linear/Conv2d of a head that keep the number of outputs.
_KEEPS_OUTPUTS = frozenset({
    "Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "ELU",
    "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Flatten", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "BatchNorm1d", "LayerNorm",
})


@dataclasses.dataclass(frozen=True)
class NewHead:
    """A layer put at (or above) the place of a torchvision model's logits: `model.fc = ...`."""

    assignment: Assignment
    layer: NewLayer | None

    def output(self) -> NewLayer | None:
        """The Linear/Conv2d that produces the logits, when the new layer shows it."""
        layer = self.layer
        while layer is not None and layer.type == "Sequential":
            inner = [item for item in reversed(layer.layers or (None,)) if item is None or item.type not in _KEEPS_OUTPUTS]
            layer = inner[0] if inner else None
        return layer if layer is not None and layer.type in ("Linear", "Conv2d") else None


def new_heads(analysis: FileAnalysis) -> list[NewHead]:
    """Every layer the file puts at the head of a torchvision model, or above it (`vgg.classifier = ...`)."""
    archs = analysis.architectures
    found = []
    for assignment in archs.assignments():
        arch = tv.architecture(assignment.located.builder)
        if arch is not None and covers(assignment.located.path, arch.head):
            found.append(NewHead(assignment, archs.new_layer(assignment.value, assignment.scope)))
    return found


def losses(analysis: FileAnalysis) -> dict[str, cst.Call]:
    """The torch losses the file builds or calls (`CrossEntropyLoss`, `cross_entropy`), each with its first call."""
    found: dict[str, cst.Call] = {}
    for site in analysis.facts.calls:
        name = analysis.names.call_name(site.node, site.scope)
        if name is None:
            continue
        module, _, short = name.rpartition(".")
        loss = (module == "torch.nn" and short.endswith("Loss")) or (
            module == "torch.nn.functional" and (short.endswith("_loss") or "entropy" in short or short == "kl_div")
        )
        if loss:
            found.setdefault(short, site.node)
    return found


class HeadClassesMismatch(Rule):
    """
    ## What it does
    Compares the output size of a new head put into a torchvision model (`model.fc = nn.Linear(2048, 5)`,
    `model.classifier = nn.Sequential(..., nn.Linear(256, 5))`) with the number of classes the script itself
    declares: a `num_classes`/`NUM_CLASSES`/`n_classes`/`nb_classes` constant (a literal, `len()` of a
    literal list, or `len(<data set>.classes)` of a torchvision data set), a list of class names
    (`classes = ("plane", "car", ...)`), a `num_classes=` argument such as `FakeData(num_classes=10)`, or the
    torchvision data set it trains on (`datasets.CIFAR10`: 10, `CIFAR100`: 100, `MNIST`: 10...). It reports
    only when every declaration agrees on one number and no new head in the file outputs it; a declaration
    featlint cannot evaluate (`len(dataset.classes)` of an `ImageFolder`, a command-line argument) keeps it
    silent, and a data set's own count is not used when the file remaps or subsets its targets
    (`.targets`, `Subset`, `target_transform`).

    The same comparison covers timm heads sized by `timm.create_model(..., num_classes=N)` or
    `model.reset_classifier(N)` on a model the file creates (the `num_classes=` that sizes the head is then
    not a declaration); a `create_model` head is left alone when the file resets the classifier or puts a
    head in by hand, which decides instead.

    It also reports a one-output head trained with `CrossEntropyLoss` / `F.cross_entropy` when the file
    uses no other loss.

    ## Why is this bad?
    Too few outputs: the first target at or above the head's size raises `IndexError: Target 7 is out of
    bounds` (a `device-side assert triggered` on CUDA). Too many: the model spends outputs on classes that do
    not exist and can predict them. One output with cross-entropy: the log-softmax of a single logit is
    always 0, so the loss is exactly 0 and nothing learns; binary tasks use `BCEWithLogitsLoss` with one
    output, or two outputs with cross-entropy.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    NUM_CLASSES = 10
    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, 5)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    NUM_CLASSES = 10
    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, NUM_CLASSES)
    ```
    """

    code = "FL306"
    name = "head-classes-mismatch"
    severity = Severity.WARNING
    summary = "The new head's output size differs from the number of classes the script declares"
    requires_tokens = ("classes", "CLASSES", "_class", "_CLASS", "datasets", "CrossEntropy", "cross_entropy")
    fires = (
        "import torch.nn as nn\nfrom torchvision import models\nCLASSES = ['cat', 'dog', 'bird']\n"
        "num_classes = len(CLASSES)\nm = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 2)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\nds = datasets.FakeData(size=100, num_classes=4)\n"
        "m = models.vgg16(weights='DEFAULT')\nm.classifier[6] = nn.Sequential(nn.Linear(4096, 256), nn.ReLU(), nn.Linear(256, 10))\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18(weights='DEFAULT')\n"
        "m.fc = nn.Linear(512, 1)\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch.nn as nn\nfrom torchvision import models\nclasses = ('plane', 'car', 'bird', 'cat', 'deer')\n"
        "m = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 2)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\ntrain = datasets.CIFAR100('data', train=True)\n"
        "m = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 10)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\ntrain = datasets.MNIST('data')\n"
        "n_classes = len(train.classes)\nm = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 100)\n",
        "import timm\nfrom torchvision import datasets\ntrain = datasets.CIFAR100('data')\n"
        "m = timm.create_model('resnet50', pretrained=True, num_classes=10)\n",
        "import timm\nCLASSES = ['cat', 'dog', 'bird']\nm = timm.create_model('vit_base_patch16_224', pretrained=True)\n"
        "m.reset_classifier(2)\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import datasets, models\ntrain = datasets.CIFAR10('data')\n"
        "m = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, len(train.classes))\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\ntrain = datasets.CIFAR10('data')\n"
        "keep = [i for i, t in enumerate(train.targets) if t < 2]\nm = models.resnet18(weights='DEFAULT')\n"
        "m.fc = nn.Linear(512, 2)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\ntrain = datasets.CIFAR10('data')\n"
        "extra = datasets.ImageFolder('more')\nm = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 12)\n",
        "import timm\nimport torch.nn as nn\nfrom torchvision import models\n"
        "trunk = timm.create_model('resnet50', pretrained=True, num_classes=0)\n"
        "m = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 4)\n",
        "import torch.nn as nn\nfrom torchvision import models\nclasses = sorted(os.listdir('data'))\n"
        "NUM_CLASSES = 10\nm = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 3)\n",
        "import torch.nn as nn\nfrom torchvision import models\nNUM_CLASSES = 10\nm = models.resnet18(weights='DEFAULT')\n"
        "m.fc = nn.Linear(512, NUM_CLASSES)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18(weights='DEFAULT')\n"
        "m.fc = nn.Linear(512, 1)\ncriterion = nn.BCEWithLogitsLoss()\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models\nds = datasets.ImageFolder('data')\n"
        "num_classes = len(ds.classes)\nm = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 2)\n",
        "import torch.nn as nn\nfrom torchvision import models\nNUM_CLASSES = 10\nif fine:\n    NUM_CLASSES = 100\n"
        "m = models.resnet18(weights='DEFAULT')\nm.fc = nn.Linear(512, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\ndef build(num_classes=5):\n    m = models.resnet18(weights='DEFAULT')\n"
        "    m.fc = nn.Linear(512, num_classes)\n    return m\nm = build()\nm.fc = nn.Linear(512, 2)\n",
        "import torch.nn as nn\nfrom torchvision import models\nNUM_CLASSES = 10\na = models.resnet18(weights='DEFAULT')\n"
        "a.fc = nn.Linear(512, NUM_CLASSES)\nb = models.resnet18(weights='DEFAULT')\nb.fc = nn.Linear(512, 1)\n",
        "import timm\nCLASSES = ['cat', 'dog', 'bird']\n"
        "m = timm.create_model('resnet50', pretrained=True, num_classes=len(CLASSES))\n",
        "import timm\nfrom torchvision import datasets\ntrain = datasets.CIFAR10('data')\n"
        "teacher = timm.create_model('resnet50', pretrained=True, num_classes=1000)\n"
        "student = timm.create_model('resnet18', pretrained=True, num_classes=10)\n",
        "import timm\nCLASSES = ['cat', 'dog', 'bird']\nm = timm.create_model('resnet50', pretrained=True, num_classes=2)\n"
        "m.reset_classifier(len(CLASSES))\n",
        "import timm\nfrom torchvision import datasets\ntrain = datasets.CIFAR10('data')\n"
        "teacher = timm.create_model('resnet50', pretrained=True, num_classes=1000)\n"
        "student = timm.create_model('resnet18', pretrained=True, num_classes=args.classes)\n",
        "import timm\nCLASSES = ['cat', 'dog', 'bird']\nclass Net:\n    def __init__(self):\n"
        "        self.body = timm.create_model('resnet50', pretrained=True)\n        self.body.reset_classifier(2)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        heads = new_heads(ctx.analysis)
        timm = timm_heads(ctx.analysis, ctx.source) if "timm" in ctx.source else []
        if not heads and not timm:
            return
        outputs = [(head, head.output()) for head in heads]
        used = losses(ctx.analysis)
        binary = [(head, out) for head, out in outputs if out is not None and out.out_size == 1]
        if binary and len(binary) == len(outputs) and set(used) and set(used) <= CROSS_ENTROPY:
            for head, out in binary:
                loss = next(iter(used.values()))
                yield ctx.report(
                    self, out.node,
                    f"`{ctx.code(head.assignment.target)}` outputs one logit and the loss is cross-entropy "
                    f"({ctx.where(loss)}): the log-softmax of one value is 0, so the loss is always 0 and nothing "
                    f"learns; use `nn.BCEWithLogitsLoss()` with one output, or two outputs",
                )
            return
        declared = declared_classes(ctx.analysis, ctx.source, sizing=frozenset(id(h.node) for h in timm))
        sizes = {out.out_size for _, out in outputs if out is not None} | {h.size for h in timm}
        if declared is None or declared.count in sizes or any(h.size is None for h in timm):
            return  # a head of the declared size, or a timm head of unknown size that may be the one
        sized = [(ctx.code(head.assignment.target), out.out_size, out.node) for head, out in outputs if out is not None]
        sized += [(h.what, h.size, h.node) for h in timm if h.reported]
        for what, size, node in sized:
            if size in (None, 1):  # one output: a binary task, or the case above
                continue
            count = declared.count
            hint = f"`{declared.name}`" if declared.name else str(count)
            effect = (
                f"any target >= {size} raises `IndexError: Target {size} is out of bounds` (a device-side assert "
                f"on CUDA)" if size < count else
                f"{size - count} outputs stand for classes that do not exist, and the model can predict them"
            )
            yield ctx.report(
                self, node,
                f"`{what}` outputs {size} classes but the script declares {count} "
                f"({declared.label}, {ctx.where(declared.node)}): {effect}; size the head with {hint}",
            )


@dataclasses.dataclass(frozen=True)
class TimmHead:
    """A timm head sized by `timm.create_model(..., num_classes=N)` or `model.reset_classifier(N)`."""

    node: cst.CSTNode  # the size argument
    size: int | None
    what: str  # how the message names it
    reported: bool  # the model it sizes is known, and no later head replaces it


def timm_heads(analysis: FileAnalysis, source: str) -> list[TimmHead]:
    """The heads `timm.create_model(num_classes=N)` and `reset_classifier(N)` build. A `create_model` head is
    reported only when the file resets no classifier and assigns no head by hand (which then decides);
    a reset only when it is called on a timm model the file creates."""
    hubs = analysis.hubs
    resets = [site for site in analysis.facts.calls
              if isinstance(site.node.func, cst.Attribute) and site.node.func.attr.value == "reset_classifier"]
    by_hand = _HEAD_ASSIGNED.search(source) is not None
    found = []
    for obj in hubs.objects:
        given = keyword(obj.call, "num_classes") if obj.kind is HubKind.TIMM_MODEL else None
        if given is not None:
            scope = hubs.scope_of(obj.call)
            size = count_of(analysis, given.value, scope) if scope is not None else None
            found.append(TimmHead(given, size, f"timm.create_model(..., num_classes={size})",
                                  not resets and not by_hand and keyword(obj.call, "features_only") is None))
    for site in resets:
        given = argument(site.node, 0, "num_classes")
        step = hubs.step(site.node)
        if given is None or step is None:
            continue
        model = hubs.object_of(site.node.func.value, site.scope, step)  # type: ignore[attr-defined]
        size = count_of(analysis, given, site.scope)
        node = next(arg for arg in site.node.args if arg.value is given)
        found.append(TimmHead(node, size, f"{analysis.module.code_for_node(site.node.func)}({size})",
                              model is not None and model.kind is HubKind.TIMM_MODEL and len(resets) == 1))
    return found

