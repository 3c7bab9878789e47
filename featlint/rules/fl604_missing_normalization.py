from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.calls import bool_literal, keyword
from featlint.analysis.inputs import Inputs, Pipeline
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class MissingNormalization(Rule):
    """
    ## What it does
    Finds a transform pipeline (`transforms.Compose([...])`, also `transforms.v2`) that turns images into
    tensors without any `Normalize`, handed to a data set (`transform=...`), in a file whose models are all
    built with pretrained weights: a torchvision classification builder with weights, or
    `timm.create_model(..., pretrained=True)`.

    It stays silent when the file normalises in any other way: a `Normalize` anywhere, `weights.transforms()`,
    timm's `create_transform` or `resolve_data_config`, another library's normalising transform, or a mean
    subtracted or a std divided by (`(x - 0.5) / 0.5` too) in a model's `forward` or a data set's
    `__getitem__`. It also stays silent when any model of the file may be trained from scratch or cannot be
    told (built without weights, weights from a command-line flag, the file's own `nn.Module` that holds no
    pretrained model, a detection model, which normalises inside itself, a timm architecture named at run time
    or one whose pretrained config has mean 0 and std 1, such as mobilevit), and on pipelines with a `Lambda`
    or a transform of the user's own.

    ## Why is this bad?
    The pretrained features were learned on images normalised with the weights' mean and std (for ImageNet
    weights, mean 0.485/0.456/0.406 and std 0.229/0.224/0.225). `ToTensor` alone gives values in [0, 1]: every
    input is shifted and scaled away from what the first layers expect. Nothing fails; the features are
    worse, a frozen backbone never adapts to it, and fine-tuning first spends its steps undoing the shift.

    ## Example
    ```python
    from torchvision import datasets, models, transforms

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()])
    train_set = datasets.ImageFolder("data/train", transform=preprocess)
    ```

    ## Use instead
    ```python
    from torchvision import datasets, models, transforms

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    preprocess = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
    ])
    train_set = datasets.ImageFolder("data/train", transform=preprocess)
    ```
    """

    code = "FL604"
    name = "missing-normalization"
    severity = Severity.WARNING
    summary = "Images reach a pretrained model without any Normalize: the features see [0, 1] pixels"
    requires_tokens = ("ToTensor", "ToDtype", "ConvertImageDtype")
    fires = (
        "from torchvision import datasets, models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])\n"
        "ds = datasets.CIFAR10('data', transform=t)\n",
        "import timm\nfrom torchvision import datasets, transforms\nm = timm.create_model('resnet50', pretrained=True)\n"
        "tfms = {'train': transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()]),\n"
        "        'val': transforms.Compose([transforms.Resize(224), transforms.ToTensor()])}\n"
        "sets = {x: datasets.ImageFolder(x, tfms[x]) for x in ['train', 'val']}\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models, transforms\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.backbone = models.vgg16(pretrained=True)\n"
        "t = transforms.Compose([transforms.ToTensor()])\nds = datasets.MNIST('data', transform=t)\nnet = Net()\n",
        # the module's name reused for the pipeline built from it
        "import timm\nfrom torchvision.datasets import MNIST\nfrom torchvision.transforms import transforms\n"
        "m = timm.create_model('vit_small_patch16_224', pretrained=True, in_chans=1)\n"
        "transform = transforms = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])\n"
        "train_set = MNIST('data', download=True, transform=transform)\n",
    )
    silent = (
        "from torchvision import datasets, models, transforms\nm = models.resnet18(weights=None)\n"
        "t = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])\nds = datasets.CIFAR10('data', transform=t)\n",
        "from torchvision import datasets, models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])\n"
        "ds = datasets.CIFAR10('data', transform=t)\n",
        "from torchvision import datasets, models, transforms\nw = models.ResNet18_Weights.DEFAULT\nm = models.resnet18(weights=w)\n"
        "t = transforms.Compose([transforms.ToTensor()])\nds = datasets.CIFAR10('data', transform=w.transforms())\n",
        "from torchvision import models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.Resize(224), transforms.ToTensor()])\n",
        "from torchvision import datasets, models, transforms\nm = models.resnet18(weights=args.weights)\n"
        "t = transforms.Compose([transforms.ToTensor()])\nds = datasets.CIFAR10('data', transform=t)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models, transforms\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.backbone = models.resnet18(weights='DEFAULT')\n"
        "        self.register_buffer('mean', torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))\n"
        "    def forward(self, x):\n        return self.backbone(x - self.mean)\n"
        "t = transforms.Compose([transforms.ToTensor()])\nds = datasets.CIFAR10('data', transform=t)\n",
        "import torch.nn as nn\nfrom torchvision import datasets, models, transforms\nclass Small(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(784, 10)\n"
        "m = models.resnet18(weights='DEFAULT')\nt = transforms.Compose([transforms.ToTensor()])\n"
        "ds = datasets.MNIST('data', transform=t)\n",
        "from torchvision import datasets, models, transforms\nm = models.detection.fasterrcnn_resnet50_fpn(weights='DEFAULT')\n"
        "t = transforms.Compose([transforms.ToTensor()])\nds = datasets.CocoDetection('a', 'b', transform=t)\n",
        "import albumentations as A\nfrom torchvision import datasets, models, transforms\nm = models.resnet18(weights='DEFAULT')\n"
        "aug = A.Compose([A.Normalize()])\nt = transforms.Compose([transforms.ToTensor()])\n"
        "ds = datasets.CIFAR10('data', transform=t)\n",
        "import timm\nfrom torchvision import datasets, transforms\nm = timm.create_model('mobilevit_s', pretrained=True)\n"
        "t = transforms.Compose([transforms.Resize(256), transforms.ToTensor()])\nds = datasets.ImageFolder('d', t)\n",
        "from torch.utils.data import Dataset\nfrom torchvision import models, transforms\n"
        "m = models.resnet18(weights='DEFAULT')\nclass Images(Dataset):\n    def __init__(self, transform):\n"
        "        self.transform = transform\n    def __getitem__(self, i):\n"
        "        return (self.transform(load(i)) - 0.5) / 0.5\n"
        "ds = Images(transforms.Compose([transforms.Resize(224), transforms.ToTensor()]))\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        inputs = ctx.analysis.inputs
        if inputs.transforms("Normalize"):
            return
        pipelines = [p for p in inputs.pipelines() if p.to_float and p.known and inputs.feeds_data(p)]
        models = inputs.pretrained_models() if pipelines else None
        if not models or inputs.normalises_elsewhere(ctx.source):
            return
        model = models[0]
        for pipeline in pipelines:
            yield ctx.report(
                self, pipeline.call,
                f"this pipeline feeds images to a data set with no Normalize, while the model on {ctx.where(model)} "
                f"is built with pretrained weights: its features see pixels in {_range(pipeline)} instead of "
                f"the statistics they were trained on, so every image is off the distribution they expect; "
                f"{_advice(inputs, model)}",
            )


def _range(pipeline: Pipeline) -> str:
    """What the tensors hold: ToTensor and ConvertImageDtype scale to [0, 1], v2's ToDtype only with scale=True."""
    for step in pipeline.steps:
        if step is not None and step.name == "ToDtype":
            scale = keyword(step.call, "scale")
            return "[0, 1]" if scale is not None and bool_literal(scale.value) is True else "[0, 255]"
    return "[0, 1]"


def _advice(inputs: Inputs, model: cst.Call) -> str:
    """The weights' own mean and std when featlint knows them, else where to read them (timm)."""
    for origin in inputs.architectures.built_models():
        if origin.call is model:
            weights = inputs.architectures.weights_of(origin)
            preset = tv.weights_transforms(weights.enum, weights.member) if weights.enum and weights.member else None
            if preset is not None:
                return (
                    f"add `transforms.Normalize(mean={preset.mean}, std={preset.std})` after the tensor conversion, "
                    "or use `weights.transforms()`"
                )
    return (
        "add a `transforms.Normalize` with the mean and std of the model's pretrained config "
        "(`timm.data.resolve_data_config({}, model=model)`), or build the pipeline with `timm.data.create_transform`"
    )
