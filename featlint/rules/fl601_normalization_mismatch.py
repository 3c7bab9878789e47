from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import hub_knowledge as hk
from featlint.analysis import torchvision as tv
from featlint.analysis.calls import argument, bool_literal, keyword, string_literal
from featlint.analysis.inputs import Transform
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# Stats written to two decimals (0.49 for 0.485) still match; 0.5 against 0.485/0.229 does not.
TOLERANCE = 0.01
Stats = tuple[tuple[float, ...], tuple[float, ...]]


class NormalizationMismatch(Rule):
    """
    ## What it does
    Compares the literal mean and std of a `transforms.Normalize` (also `transforms.v2.Normalize`) with the
    ones the pretrained weights of the file's torchvision model were trained with, as recorded in
    `weights.transforms()` (0.485/0.456/0.406 and 0.229/0.224/0.225 for most ImageNet weights, 0.5 for
    EfficientNet-V2's), or with the pretrained configuration of a timm tag written in
    `timm.create_model("<name>", pretrained=True)` (0.5 for most ViTs, CLIP's stats for CLIP towers), when
    every model of the file is such a timm model.

    When the file builds several pretrained models with different stats, it reports only a `Normalize` that
    matches none of them. It stays silent when any model is built with weights featlint cannot tell, when the
    values are computed (an inverse normalization) and when they are the weights' stats scaled to 0-255.

    ## Why is this bad?
    Nothing fails: every image is shifted and scaled away from the distribution the pretrained features were
    learned on, and accuracy drops by several points (more when the std is off) for no visible reason.

    ## Example
    ```python
    from torchvision import models, transforms

    model = models.efficientnet_v2_l(weights=models.EfficientNet_V2_L_Weights.DEFAULT)
    preprocess = transforms.Compose([
        transforms.Resize(480),
        transforms.ToTensor(),
        transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    ])
    ```

    ## Use instead
    ```python
    from torchvision import models, transforms

    weights = models.EfficientNet_V2_L_Weights.DEFAULT
    model = models.efficientnet_v2_l(weights=weights)
    preprocess = weights.transforms()
    ```
    """

    code = "FL601"
    name = "normalization-mismatch"
    severity = Severity.WARNING
    summary = "Normalize's mean/std differ from those the pretrained weights were trained with"
    requires_tokens = ("Normalize",)
    fires = (
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "t = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n",
        "import timm\nfrom torchvision import transforms\nm = timm.create_model('vit_base_patch16_224', pretrained=True)\n"
        "t = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))\n",
        "import torchvision.transforms.v2 as T\nimport torchvision\n"
        "m = torchvision.models.get_model('efficientnet_v2_l', weights='IMAGENET1K_V1')\n"
        "MEAN = [0.485, 0.456, 0.406]\nSTD = [0.229, 0.224, 0.225]\nt = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])\n",
        "from torchvision import models, transforms\nm = models.vgg16(pretrained=True)\n"
        "t = transforms.Normalize(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0])\n",
    )
    silent = (
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "t = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "t = transforms.Normalize([0.49, 0.46, 0.41], [0.23, 0.22, 0.23])\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights=None)\n"
        "t = transforms.Normalize((0.5,), (0.5,))\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights=args.weights)\n"
        "t = transforms.Normalize((0.5,), (0.5,))\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "unnormalize = transforms.Normalize([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225], [1 / 0.229, 1 / 0.224, 1 / 0.225])\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "t = transforms.Normalize([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])\n",
        "from torchvision import models, transforms\na = models.resnet50(weights='DEFAULT')\n"
        "b = models.efficientnet_v2_l(weights='DEFAULT')\nt = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n",
        "import timm\nfrom torchvision import models, transforms\na = models.resnet50(weights='DEFAULT')\n"
        "b = timm.create_model('vit_base_patch16_224', pretrained=True)\nt = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n",
        "import timm\nfrom torchvision import transforms\nm = timm.create_model('vit_base_patch16_224', pretrained=True)\n"
        "t = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n",
        "import timm\nfrom torchvision import transforms\nm = timm.create_model(args.arch, pretrained=True)\n"
        "t = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))\n",
        "import timm\nfrom torchvision import transforms\nm = timm.create_model('resnet50', pretrained=True)\n"
        "cfg = timm.data.resolve_data_config({}, model=m)\nt = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\nt = transforms.Normalize(mean, std)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        inputs = ctx.analysis.inputs
        normalizes = inputs.transforms("Normalize")
        if not normalizes:
            return
        models = inputs.models()
        expected: list[tuple[str, Stats]] = []
        if models is None and "timm" in ctx.source:
            expected = _timm_expected(ctx) or []
            models = ()
        if models is None:
            return
        for origin, weights in models:
            if weights.enum is None or weights.member is None:
                if weights is not weights.NONE:
                    return  # weights featlint cannot tell: the right stats are unknown
                continue
            preset = tv.weights_transforms(weights.enum, weights.member)
            if preset is None:
                return
            expected.append((f"{origin.builder.name}'s", (preset.mean, preset.std)))
        if not expected:
            return
        for normalize in normalizes:
            found = _stats(ctx, normalize)
            if found is None or any(_matches(found, stats) for _, stats in expected):
                continue
            name, (mean, std) = expected[0]
            fix = ("`timm.data.resolve_data_config({}, model=model)` with `create_transform`" if name.startswith("timm")
                   else "`weights.transforms()`")
            yield ctx.report(
                self, normalize.call,
                f"{name} weights were trained with mean {_show(mean)} and std {_show(std)}; this Normalize uses "
                f"mean {_show(found[0])} and std {_show(found[1])}, so every image is off the distribution the "
                f"pretrained features expect: use the weights' stats, or {fix}",
            )


def _timm_expected(ctx: FileContext) -> list[tuple[str, Stats]] | None:
    """The stats of the pretrained timm tags the file builds, when every model it builds is one of them:
    `timm.create_model("<known name>", pretrained=True)`. None when anything else may be fed (another model,
    a name chosen at run time, timm's own `resolve_data_config`/`create_transform`, `in_chans`)."""
    if ctx.analysis.architectures.built_models():
        return None
    expected = []
    for site in ctx.analysis.facts.calls:
        name = ctx.analysis.names.call_name(site.node, site.scope)
        if name is None or not name.startswith("timm."):
            continue
        call = site.node
        if name != "timm.create_model" or keyword(call, "in_chans") is not None or any(a.star for a in call.args):
            return None
        tag = string_literal(argument(call, 0, "model_name"))
        pretrained = keyword(call, "pretrained")
        flag = bool_literal(pretrained.value) if pretrained is not None else False
        if tag is None or flag is None:
            return None
        if not flag:
            continue
        config = hk.timm_pretrained(tag)
        if config is None:
            return None
        expected.append((f"timm's `{tag}`", (config.mean, config.std)))
    # Any other model factory (Hugging Face, PEFT, torch.hub...) makes the expected stats unknown.
    values = ctx.analysis.values
    for site in ctx.analysis.facts.calls:
        name = ctx.analysis.names.call_name(site.node, site.scope)
        if name is not None and name != "timm.create_model" and values.is_model_factory(name):
            return None
    return expected


def _stats(ctx: FileContext, normalize: Transform) -> Stats | None:
    inputs = ctx.analysis.inputs
    mean_arg, std_arg = argument(normalize.call, 0, "mean"), argument(normalize.call, 1, "std")
    if mean_arg is None or std_arg is None:
        return None
    mean, std = inputs.floats(mean_arg, normalize.scope), inputs.floats(std_arg, normalize.scope)
    if mean is None or std is None:
        return None
    return mean, std


def _matches(found: Stats, expected: Stats) -> bool:
    """Equal within the tolerance, per channel (a single value applies to every channel), on the 0-1 scale
    or on the 0-255 scale of images that were never divided by 255."""
    return any(
        all(_close(values, reference, scale) for values, reference in zip(found, expected, strict=True))
        for scale in (1.0, 255.0)
    )


def _close(values: tuple[float, ...], reference: tuple[float, ...], scale: float) -> bool:
    if len(values) == 1:
        values = values * len(reference)
    if len(values) != len(reference):
        return False
    return all(abs(value - ref * scale) <= TOLERANCE * scale for value, ref in zip(values, reference, strict=True))


def _show(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{value:g}" for value in values) + ")"
