from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.architectures import Architectures, Origin, Weights, covers
from featlint.analysis.calls import keyword
from featlint.analysis.inputs import FinalSize
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class InputSizeMismatch(Rule):
    """
    ## What it does
    Compares the image size a `transforms.Compose([...])` pipeline ends with (its last `Resize`,
    `CenterCrop`, `RandomCrop` or `RandomResizedCrop`) with what the file's torchvision model accepts:

    * models whose forward asserts its input size (`vit_*`, `maxvit_t`), for the weights they are built
      with (`vit_b_16`'s `IMAGENET1K_SWAG_E2E_V1` weights take 384, the others 224);
    * `inception_v3` with its auxiliary head (the default, also with weights): its training forward needs at
      least 299x299. Only the training pipeline (one that augments at random) is compared.

    The accepted sizes are observed from torchvision's own forward (`featlint/data/torchvision.json`). It
    stays silent when `image_size=` is passed to the builder, when the file builds a model whose architecture
    or weights featlint cannot tell, and when a step after the resize may change the size (`Pad`, `Lambda`...).

    ## Why is this bad?
    The first forward fails (`AssertionError: Wrong image height! Expected 224 but got 256!`, or inception's
    `Kernel size can't be greater than actual input size`), after the data set-up and often hours into a
    queued job.

    ## Example
    ```python
    from torchvision import models, transforms

    model = models.vit_b_16(weights=models.ViT_B_16_Weights.IMAGENET1K_V1)
    preprocess = transforms.Compose([transforms.Resize((256, 256)), transforms.ToTensor()])
    ```

    ## Use instead
    ```python
    from torchvision import models, transforms

    model = models.vit_b_16(weights=models.ViT_B_16_Weights.IMAGENET1K_V1)
    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()])
    ```
    """

    code = "FL602"
    name = "input-size-mismatch"
    severity = Severity.WARNING
    summary = "Resize/crop sizes that the model's forward rejects"
    requires_tokens = ("Resize", "Crop")
    fires = (
        "from torchvision import models, transforms\nm = models.vit_b_16(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(256), transforms.ToTensor()])\n",
        "import torchvision\nimport torchvision.transforms.v2 as T\nSIZE = 384\n"
        "m = torchvision.models.get_model('maxvit_t')\nt = T.Compose([T.RandomResizedCrop(SIZE), T.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.vit_b_16(weights='IMAGENET1K_SWAG_E2E_V1')\n"
        "t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])\n",
        "from torchvision import models, transforms\nm = models.inception_v3(weights='DEFAULT')\n"
        "train = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()])\n"
        "val = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])\n",
    )
    silent = (
        "from torchvision import models, transforms\nm = models.vit_b_16(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.vit_b_16(image_size=256)\n"
        "t = transforms.Compose([transforms.Resize((256, 256)), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.resnet50(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize((256, 256)), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.vit_b_16(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(256), transforms.Lambda(crop), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.vit_b_16(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\na = models.vit_b_16(weights='DEFAULT')\nb = models.resnet50()\n"
        "t = transforms.Compose([transforms.Resize((256, 256)), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.inception_v3(weights='DEFAULT', aux_logits=False)\n"
        "t = transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()])\n",
        "from torchvision import models, transforms\nm = models.inception_v3(weights='DEFAULT')\n"
        "train = transforms.Compose([transforms.RandomResizedCrop(299), transforms.RandomHorizontalFlip()])\n"
        "val = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])\n",
        "from torchvision import models, transforms\nm = models.vit_b_16(weights=args.weights)\n"
        "t = transforms.Compose([transforms.Resize((256, 256)), transforms.ToTensor()])\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        inputs = ctx.analysis.inputs
        pipelines = inputs.pipelines()
        models = inputs.models() if pipelines else None
        if not models:
            return
        archs = ctx.analysis.architectures
        training = [p for p in pipelines if p.training] or (list(pipelines) if len(pipelines) == 1 else [])
        for pipeline in pipelines:
            final = inputs.final_size(pipeline)
            if final is None:
                continue
            reasons = [_rejects(archs, origin, weights, final, pipeline in training) for origin, weights in models]
            if all(reasons) and reasons[0] is not None:
                yield ctx.report(self, final.transform.call, reasons[0])


def _rejects(
    archs: Architectures, origin: Origin, weights: Weights, final: FinalSize, training: bool
) -> str | None:
    """Why the model cannot take the pipeline's images, or None when it can (or featlint cannot tell)."""
    arch = tv.architecture(origin.builder)
    if arch is None or weights is Weights.UNKNOWN or keyword(origin.call, "image_size") is not None:
        return None
    name, gives = origin.builder.name, f"this {final.transform.name} gives {final.describe()}"
    member = weights.member if weights.pretrained else "none"
    accepted = arch.input_sizes.get(member or "") if arch.input_sizes is not None else None
    if accepted is not None and any(side not in accepted for side in final.sides):
        sizes = " or ".join(f"{size}x{size}" for size in accepted)
        return (
            f"{name} asserts {sizes} inputs; {gives}, so the first forward fails with an assertion: resize "
            f"or crop to {accepted[0]}"
        )
    if training and arch.min_train_size is not None and min(final.sides) < arch.min_train_size:
        aux_on = [aux for aux in arch.aux.values() if archs.has_aux_head(origin, aux, arch) and not _removed(archs, origin, aux)]
        if aux_on:
            size = arch.min_train_size
            switch = f", or build it with `{arch.aux_param}=False`" if arch.aux_param else ""
            return (
                f"{name}'s auxiliary head `{tv.display_path(aux_on[0].root)}` runs in train mode and needs inputs of "
                f"at least {size}x{size}; {gives}, so the first training step fails (`Kernel size can't be greater "
                f"than actual input size`): crop to {size}{switch}"
            )
    return None


def _removed(archs: Architectures, origin: Origin, aux: tv.AuxHead) -> bool:
    """The file switches the auxiliary head off (`model.aux_logits = False`) or removes it on this model."""
    return any(
        origin in assignment.located.origins
        and (assignment.located.path == "aux_logits" or covers(assignment.located.path, aux.root))
        for assignment in archs.assignments()
    )
