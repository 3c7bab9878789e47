from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.architectures import Architectures, Assignment, NewLayer, covers
from featlint.analysis.calls import argument
from featlint.analysis.inputs import Transform, keeps_channels
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# Tensor methods and torch functions that can turn one channel into three (`x.repeat(1, 3, 1, 1)`).
_CHANNEL_COPIES = frozenset({"repeat", "expand", "expand_as", "repeat_interleave", "tile"})
_CHANNEL_JOINS = frozenset({"torch.cat", "torch.concat", "torch.concatenate", "torch.stack", "torch.tile"})


class GrayscaleIntoRgbBackbone(Rule):
    """
    ## What it does
    Finds one-channel images meant for a pretrained torchvision model whose first convolution takes three:

    * `transforms.Grayscale()` (or `Grayscale(1)`) in a file whose torchvision models are all built with
      pretrained weights, when nothing in the file turns the channel back into three (a later `Lambda`, a
      `repeat`/`expand`/`torch.cat`, a new `Conv2d(1, ...)`);
    * the stem of a pretrained model (`model.conv1`, `model.features[0][0]`...) replaced by a new
      `Conv2d(1, ...)`, unless the file builds its weights from the pretrained ones (reads the old stem's
      `.weight`).

    ## Why is this bad?
    The first forward fails with `expected input[32, 1, 224, 224] to have 3 channels, but got 1 channels
    instead`. The common fix, a new one-channel `conv1`, runs but throws the pretrained first layer away:
    every feature above it was learned on what that layer computed, and the new one starts random.
    Keep the pretrained stem and feed it three channels (`Grayscale(num_output_channels=3)`), or build the
    one-channel convolution from the pretrained one (sum its weights over the RGB axis).

    ## Example
    ```python
    from torchvision import models, transforms

    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
    preprocess = transforms.Compose([transforms.Grayscale(), transforms.Resize(224), transforms.ToTensor()])
    ```

    ## Use instead
    ```python
    from torchvision import models, transforms

    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)
    preprocess = transforms.Compose(
        [transforms.Grayscale(num_output_channels=3), transforms.Resize(224), transforms.ToTensor()]
    )
    ```
    """

    code = "FL603"
    name = "grayscale-into-rgb-backbone"
    severity = Severity.WARNING
    summary = "One-channel images for a pretrained 3-channel stem, or the pretrained stem replaced by Conv2d(1, ...)"
    requires_tokens = ("Grayscale", "Conv2d")
    fires = (
        "from torchvision import transforms\nimport torchvision\nm = torchvision.models.get_model('vit_b_16', weights='DEFAULT')\n"
        "t = transforms.Grayscale(1)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50(weights='DEFAULT')\n"
        "m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.efficientnet_b0(pretrained=True)\n"
        "m.features[0][0] = nn.Conv2d(1, 32, 3, 2, 1, bias=False)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.mobilenet_v2(weights='DEFAULT')\n"
        "m.features[0] = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())\n",
    )
    silent = (
        "from torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Grayscale(num_output_channels=3)\n",
        "from torchvision import models, transforms\nm = models.resnet18(weights=None)\nt = transforms.Grayscale()\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18(weights=None)\n"
        "m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)\n",
        "from torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Grayscale(), transforms.ToTensor(), transforms.Lambda(lambda x: x.repeat(3, 1, 1))])\n",
        "from torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\nt = transforms.Grayscale()\n"
        "def step(x):\n    return m(x.expand(-1, 3, -1, -1))\n",
        "import torch.nn as nn\nfrom torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Grayscale()\nw = m.conv1.weight.sum(dim=1, keepdim=True)\n"
        "m.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)\nm.conv1.weight.data = w\n",
        "from torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\nt = transforms.RandomGrayscale(p=0.2)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet18(weights='DEFAULT')\n"
        "m.conv1 = nn.Conv2d(4, 64, kernel_size=7, stride=2, padding=3, bias=False)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        archs = ctx.analysis.architectures
        stems = [a for a in archs.assignments() if _replaces_stem(a)]
        for assignment in stems:
            yield from self._check_stem(ctx, archs, assignment)
        if not stems:
            for grayscale in ctx.analysis.inputs.transforms("Grayscale"):
                yield from self._check_grayscale(ctx, grayscale)

    def _check_stem(self, ctx: FileContext, archs: Architectures, assignment: Assignment) -> Iterator[Diagnostic]:
        located = assignment.located
        new = _first_conv(archs.new_layer(assignment.value, assignment.scope))
        if new is None or new.in_size != 1:
            return
        if not all(archs.weights_of(origin).pretrained for origin in located.origins):
            return
        arch = tv.architecture(located.builder)
        assert arch is not None, f"no architecture known for the builder {located.builder}"
        if _reads_old_weights(ctx, archs, assignment, arch.stem):
            return
        yield ctx.report(
            self, new.node,
            f"`{ctx.code(assignment.target)}` takes one channel now, but {located.builder.name} was built with "
            f"pretrained weights: its pretrained stem `{tv.display_path(arch.stem)}` is thrown away and the new one "
            f"starts random under features learned on RGB; feed 3 channels (`Grayscale(num_output_channels=3)`) or "
            f"build it from the pretrained weights summed over the RGB axis",
        )

    def _check_grayscale(self, ctx: FileContext, grayscale: Transform) -> Iterator[Diagnostic]:
        archs, inputs = ctx.analysis.architectures, ctx.analysis.inputs
        channels = argument(grayscale.call, 0, "num_output_channels")
        if channels is not None and archs.size(channels, grayscale.scope) != 1:
            return
        pipeline = inputs.pipeline_of(grayscale)
        if pipeline is not None and not all(keeps_channels(step) for step in pipeline.after(grayscale)):
            return
        models = inputs.models()
        if not models or not all(weights.pretrained for _, weights in models) or _copies_channels(ctx):
            return
        if not all(_rgb_stem(origin.builder) for origin, _ in models):
            return
        origin = models[0][0]
        arch = tv.architecture(origin.builder)
        assert arch is not None, f"no architecture known for the builder {origin.builder}"
        yield ctx.report(
            self, grayscale.call,
            f"this Grayscale outputs 1 channel, but {origin.builder.name}'s pretrained stem "
            f"`{tv.display_path(arch.stem)}` takes 3: the first forward fails (`expected input ... to have 3 "
            f"channels, but got 1 channels instead`); use `Grayscale(num_output_channels=3)`",
        )


def _replaces_stem(assignment: Assignment) -> bool:
    arch = tv.architecture(assignment.located.builder)
    return arch is not None and covers(assignment.located.path, arch.stem)


def _rgb_stem(builder: tv.Builder) -> bool:
    arch = tv.architecture(builder)
    stem = arch.layer(arch.stem) if arch is not None else None
    return stem is not None and stem.in_size == 3


def _first_conv(layer: NewLayer | None) -> NewLayer | None:
    """The convolution the new layer starts with (itself, or the first layer of a Sequential)."""
    while layer is not None and layer.type == "Sequential":
        layer = layer.layers[0] if layer.layers else None
    return layer if layer is not None and layer.type == "Conv2d" else None


def _reads_old_weights(ctx: FileContext, archs: Architectures, assignment: Assignment, stem: str) -> bool:
    """The file reads the pretrained stem's weights (to fold them into the new one): `model.conv1.weight`, or
    `.weight` of a name bound to the old stem."""
    located = assignment.located
    holders = {tv.display_path(stem)}
    for scope in ctx.analysis.facts.scopes.values():
        for name, bindings in scope.bindings.items():
            for binding in bindings:
                if binding.kind != "assign" or binding.value is None:
                    continue
                other = archs.locate(binding.value, binding.scope)
                if other is not None and other.origins == located.origins and covers(located.path, other.path):
                    holders.add(name)
    return any(f"{holder}.weight" in ctx.source for holder in holders)


def _copies_channels(ctx: FileContext) -> bool:
    """Something in the file may turn one channel into three: `x.repeat(1, 3, 1, 1)`, `torch.cat([x] * 3)`,
    or a new one-channel convolution of the file's own."""
    analysis = ctx.analysis
    for site in analysis.facts.calls:
        func = site.node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _CHANNEL_COPIES:
            return True
        name = analysis.names.call_name(site.node, site.scope)
        if name in _CHANNEL_JOINS:
            return True
        if name == "torch.nn.Conv2d":
            channels = argument(site.node, 0, "in_channels")
            if channels is None or analysis.architectures.size(channels, site.scope) in (1, None):
                return True
    return False
