from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import hub_knowledge as hk
from featlint.analysis import torchvision as tv
from featlint.analysis.architectures import (
    Architectures,
    Assignment,
    Misfit,
    NewLayer,
    covers,
    feed,
)
from featlint.analysis.calls import argument, string_literal
from featlint.analysis.hubs import HubKind, HubObject, Step
from featlint.analysis.scopes import AttributeStore
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Applicability, Diagnostic, Severity
from featlint.rules.base import Rule

# `timm.create_model` arguments that leave the layers before the head as the architecture builds them (the
# rest, `global_pool="catavgmax"` or a width, can change what the head receives).
_TIMM_PLAIN_ARGUMENTS = frozenset({"model_name", "pretrained", "num_classes", "drop_rate", "drop_path_rate",
                                   "drop_block_rate", "in_chans", "checkpoint_path", "cache_dir"})


class HeadSizeMismatch(Rule):
    """
    ## What it does
    Checks the sizes of a layer put into a torchvision model (`model.fc = nn.Linear(512, 10)`,
    `model.classifier[6] = ...`, `model.classifier = nn.Sequential(...)`) against what that architecture's
    forward feeds the place, and that the layer after it in a Sequential classifier still fits.

    The sizes come from torchvision itself (`featlint/data/torchvision.json`). Sizes read from the old
    layer (`model.fc.in_features`, `num_ftrs = ...`), layers whose sizes featlint cannot evaluate, and your
    own `nn.Module` classes are left alone. The same on a timm model whose architecture is written in
    `timm.create_model("...")`, when the new layer goes where the architecture's head is (`model.fc` on a
    resnet50, `model.head.fc` on a ConvNeXt) and nothing else in the file changes the model: the size is
    that of the head timm builds (`featlint/data/timm.json`).

    ## Why is this bad?
    The first forward pass fails with `mat1 and mat2 shapes cannot be multiplied`, often hours into a job
    (after the data loading and the first epoch's set-up), and only on the path that uses the model.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(512, 10)
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, 10)
    ```

    ## Fix safety
    The fix writes the size the architecture feeds the layer. It is safe when the wrong size was a
    literal, unsafe when it replaces an expression.
    """

    code = "FL301"
    name = "head-size-mismatch"
    severity = Severity.ERROR
    summary = "A new layer's input size does not match what the architecture feeds it at that place"
    fixable = True
    requires_tokens = ("vision", "timm")
    fires = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18()\nm.fc = nn.Linear(2048, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nm.classifier = nn.Linear(4096, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nm.classifier[0] = nn.Linear(25088, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.mobilenet_v3_large()\n"
        "m.classifier[0] = nn.Linear(1280, 5)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.squeezenet1_1()\nm.classifier[1] = nn.Linear(512, 5)\n",
        "import torch.nn as nn\nimport torchvision\nm = torchvision.models.get_model('vit_b_16', weights='DEFAULT')\n"
        "m.heads = nn.Sequential(nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 3))\n",
        "import torch.nn as nn\nfrom torchvision import models\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.backbone = models.densenet121()\n"
        "        self.backbone.classifier = nn.Linear(2048, 4)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50.a1_in1k', pretrained=True)\n"
        "m.fc = nn.Linear(512, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('mobilenetv3_large_100', pretrained=True, num_classes=0)\n"
        "m.classifier = nn.Linear(960, 3)\n",
    )
    silent = (
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nm.fc = nn.Linear(m.fc.in_features, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nnum_ftrs = m.fc.in_features\n"
        "m.fc = nn.Linear(num_ftrs, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\n"
        "m.classifier[6] = nn.Linear(m.classifier[6].in_features, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nm.fc = nn.Identity()\nhead = nn.Linear(2048, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\n"
        "m.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 3))\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.squeezenet1_1()\n"
        "m.classifier[1] = nn.Conv2d(512, 5, kernel_size=1)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50()\nm.fc = nn.Linear(args.features, 10)\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(512, 10)\nm = Net()\nm.fc = nn.Linear(512, 10)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.vgg16()\nm.avgpool = nn.AdaptiveAvgPool2d(1)\n"
        "m.classifier = nn.Linear(512, 10)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50', pretrained=True)\nm.fc = nn.Linear(2048, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('convnext_tiny', pretrained=True)\n"
        "m.head.fc = nn.Linear(768, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50', global_pool='catavgmax')\n"
        "m.fc = nn.Linear(4096, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50')\nm.global_pool = MyPool()\n"
        "m.fc = nn.Linear(512, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model('resnet50')\nm.reset_classifier(3, 'catavgmax')\n"
        "m.fc = nn.Linear(4096, 3)\n",
        "import timm, torch.nn as nn\nm = timm.create_model(arch)\nm.fc = nn.Linear(512, 3)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        archs = ctx.analysis.architectures
        for assignment in archs.assignments():
            yield from self._check(ctx, archs, assignment)
        if "timm" in ctx.source:
            yield from self._timm(ctx, archs)

    def _check(self, ctx: FileContext, archs: Architectures, assignment: Assignment) -> Iterator[Diagnostic]:
        located = assignment.located
        arch = tv.architecture(located.builder)
        layer = located.layer
        new = archs.new_layer(assignment.value, assignment.scope)
        if arch is None or layer is None or layer.input is None or new is None:
            return
        if not _unchanged_around(archs, assignment, arch):
            return
        output, misfit = feed(new, layer.input)
        if misfit is not None:
            yield self._report_misfit(ctx, assignment, arch, misfit)
            return
        yield from self._check_next(ctx, archs, assignment, arch, output)

    def _timm(self, ctx: FileContext, archs: Architectures) -> Iterator[Diagnostic]:
        """A new layer at a timm model's head path whose input size is not what the head timm builds takes."""
        hubs = ctx.analysis.hubs
        stores = [(store, hubs.step(store.statement)) for store in ctx.analysis.facts.attribute_stores]
        changed = [(store, value, model) for store, step in stores if step is not None
                   and (value := store.value) is not None and (model := _timm_model(ctx, store, step)) is not None]
        for store, value, model in changed:
            name = string_literal(argument(model.call, 0, "model_name"))
            arch = hk.timm_architecture(name) if name is not None and _plain(ctx, model.call) else None
            receiver, _, path = ctx.code(store.target).partition(".")
            if (arch is None or arch.head_in is None or arch.head != path or arch.head_types != ("Linear",)
                    or path not in (arch.reset or ())):
                continue
            if any(other is not store and found.call is model.call
                   and not ctx.code(other.target).endswith(".requires_grad") for other, _, found in changed):
                continue  # another part of the model replaced: what reaches the head may differ
            _, misfit = feed(archs.new_layer(value, store.scope), (arch.head_in,))
            if misfit is None or misfit.received != (arch.head_in,) or misfit.layer.type != "Linear":
                continue
            right = str(arch.head_in)
            read = f" (`{receiver}.num_features`)" if arch.head_in == arch.num_features else ""
            edits = [ctx.replace(misfit.layer.in_arg, right)] if misfit.layer.in_arg is not None else []
            yield ctx.report(
                self, misfit.layer.node,
                f"timm's {arch.name} feeds its head `{path}` {right} features; this Linear expects "
                f"{misfit.layer.in_size}, so the first forward fails (`mat1 and mat2 shapes cannot be multiplied`): "
                f"use {right}{read}, or pass `num_classes=N` to `timm.create_model` instead",
                fix_message=f"Use {right} input features",
                edits=edits,
                applicability=Applicability.SAFE if isinstance(misfit.layer.in_arg, cst.Integer)
                else Applicability.UNSAFE,
            )

    def _report_misfit(
        self, ctx: FileContext, assignment: Assignment, arch: tv.Architecture, misfit: Misfit
    ) -> Diagnostic:
        builder, path = assignment.located.builder, assignment.located.path
        layer = arch.layers[path]
        where = f"{builder.name}'s `{tv.display_path(path)}`"
        received = misfit.received
        new = misfit.layer
        if layer.type == "Conv2d" and new.type == "Linear" and len(received) == 3:
            return ctx.report(
                self, new.node,
                f"{builder.name}'s head `{tv.display_path(path)}` is a Conv2d({layer.in_size}, C, {layer.kernel}): it "
                f"receives a {_shape(received)} feature map, which a Linear cannot take and the first forward fails; "
                f"use `nn.Conv2d({layer.in_size}, num_classes, kernel_size={layer.kernel})`",
            )
        if new.type == "Conv2d":
            return ctx.report(
                self, new.node,
                f"{where} receives {received[0]} channels; this Conv2d expects {new.in_size}, so the first forward "
                f"fails: use {received[0]}",
            )
        if len(received) > 1:
            return ctx.report(
                self, new.node,
                f"{where} receives a {_shape(received)} tensor, not flat features; this Linear expects "
                f"{new.in_size} and the first forward fails: keep the layers that flatten it and replace "
                f"`{tv.display_path(arch.head)}` instead",
            )
        right = str(received[0])
        read = f" or `{ctx.code(assignment.target)}.in_features`" if layer.type == "Linear" and new.node is assignment.value else ""
        edits = [ctx.replace(new.in_arg, right)] if new.in_arg is not None else []
        literal = isinstance(new.in_arg, cst.Integer)
        return ctx.report(
            self, new.node,
            f"{where} receives {right} features; this Linear expects {new.in_size}, so the first forward fails "
            f"(`mat1 and mat2 shapes cannot be multiplied`): use {right}{read}",
            fix_message=f"Use {right} input features",
            edits=edits,
            applicability=Applicability.SAFE if literal else Applicability.UNSAFE,
        )

    def _check_next(
        self, ctx: FileContext, archs: Architectures, assignment: Assignment, arch: tv.Architecture, output: object
    ) -> Iterator[Diagnostic]:
        """A layer put inside a Sequential classifier must still feed the layers after it."""
        located = assignment.located
        parent, _, index = located.path.rpartition(".")
        container = arch.layer(parent) if parent else None
        if container is None or container.length is None or not index.isdigit() or not isinstance(output, tuple):
            return
        assigned = archs.assigned_paths(located)
        for later in range(int(index) + 1, container.length):
            path = f"{parent}.{later}"
            layer = arch.layer(path)
            if layer is None or any(covers(other, path) for other in assigned):
                return
            if layer.type == "Linear":
                if output and output[-1] != layer.in_size:
                    yield ctx.report(
                        self, assignment.value,
                        f"{located.builder.name}'s `{tv.display_path(path)}` expects {layer.in_size} features but "
                        f"this layer now gives it {output[-1]}, so the first forward fails: the classes belong in "
                        f"the last layer, `{tv.display_path(arch.head)}`",
                    )
                return
            if layer.type not in ("Dropout", "ReLU", "Hardswish", "Tanh", "GELU", "SiLU"):
                return


def _unchanged_around(archs: Architectures, assignment: Assignment, arch: tv.Architecture) -> bool:
    """What feeds the place is what torchvision built: nothing above it or before it was replaced in the file
    (an auxiliary head, the layers after it, and a stem that keeps its width do not count)."""
    located = assignment.located
    path = located.path
    for other in archs.assignments():
        if other is assignment or other.located.origins != located.origins:
            continue
        other_path = other.located.path
        if other_path == path or covers(path, other_path):
            continue  # the same place again, or inside the new layer
        if any(covers(aux.root, other_path) for aux in arch.aux.values()):
            continue
        if other_path.split(".")[0] not in arch.children:
            continue  # an attribute the forward never calls (FL302) changes nothing it computes
        parent, _, index = path.rpartition(".")
        other_parent, _, other_index = other_path.rpartition(".")
        if parent and parent == other_parent and index.isdigit() and other_index.isdigit():
            if int(other_index) > int(index):
                continue  # a later layer of the same classifier
        if other_path == arch.stem:
            stem = arch.layer(arch.stem)
            new = archs.new_layer(other.value, other.scope)
            if stem is not None and isinstance(new, NewLayer) and new.out_size == stem.out_size:
                continue
        return False
    return True


def _timm_model(ctx: FileContext, store: AttributeStore, step: Step) -> HubObject | None:
    """The timm model `store` assigns into (`model.fc = ...`, `model.head.fc = ...`), if it is one."""
    root: cst.BaseExpression = store.target
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name) or not isinstance(store.target, cst.Attribute):
        return None
    model = ctx.analysis.hubs.object_of(root, store.scope, step)
    return model if model is not None and model.kind is HubKind.TIMM_MODEL else None


def _plain(ctx: FileContext, call: cst.Call) -> bool:
    """`timm.create_model` with the architecture's own layers before the head (no `global_pool=...`, no
    `**kwargs`), and no `reset_classifier` in the file that changes the pooling."""
    for position, arg in enumerate(call.args):
        if arg.star or (arg.keyword is None and position > 1) or (
                arg.keyword is not None and arg.keyword.value not in _TIMM_PLAIN_ARGUMENTS):
            return False
    return not any(isinstance(c.node.func, cst.Attribute) and c.node.func.attr.value == "reset_classifier"
                   and len(c.node.args) > 1 for c in ctx.analysis.facts.calls)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)
