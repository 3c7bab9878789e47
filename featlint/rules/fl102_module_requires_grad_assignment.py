from collections.abc import Iterator

from featlint.analysis.values import Kind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules._edits import assignment_to_requires_grad_call
from featlint.rules._requires_grad import unchanged
from featlint.rules.base import Rule


class ModuleRequiresGradAssignment(Rule):
    """
    ## What it does
    Finds `requires_grad = ...` assigned on an `nn.Module` (a torchvision model, one of its submodules such as
    `model.fc` or `model.features`, a layer, a module yielded by `children()` or `modules()`, or `self.backbone`
    in your own module) instead of on its parameters. Models from timm (`timm.create_model`), Hugging Face
    (`AutoModel...from_pretrained`, `from_config`) and PEFT (`get_peft_model`, `PeftModel.from_pretrained`)
    count too: `model.bert.requires_grad = False` freezes nothing.

    ## Why is this bad?
    `requires_grad` is a flag of tensors, not of modules. On a module the assignment just adds a plain
    Python attribute and every parameter inside keeps the value it had. `= False` meant to freeze: the
    "frozen" backbone trains with the rest of the model and nothing warns you. `= True` meant to unfreeze
    layers after a freeze: they stay frozen and never train.

    ## Example
    ```python
    import torchvision

    model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.DEFAULT)
    model.layer1.requires_grad = False
    ```

    ## Use instead
    ```python
    import torchvision

    model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.DEFAULT)
    model.layer1.requires_grad_(False)
    ```
    """

    code = "FL102"
    name = "module-requires-grad-assignment"
    severity = Severity.ERROR
    summary = "`requires_grad` assigned on an nn.Module sets a plain attribute; its parameters keep their setting"
    fixable = True
    requires_tokens = ("requires_grad",)  # the assigned attribute
    fires = (
        "import transformers\nm = transformers.AutoModelForSequenceClassification.from_pretrained('b')\n"
        "m.bert.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\nmodel.requires_grad = False\n",
        "from torchvision import models\nm = models.vgg16()\nm.features.requires_grad = False\n",
        "from torchvision import models\nm = models.vgg16()\nm.features[0].requires_grad = False\n",
        "import torch.nn as nn\nhead = nn.Linear(512, 10)\nhead.requires_grad = True\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\n"
        "for child in list(model.children())[:-1]:\n    child.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\n"
        "for name, module in model.named_modules():\n    module.requires_grad = False\n",
        "import torch.nn as nn\nimport torchvision\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.backbone = torchvision.models.resnet18()\n"
        "        self.backbone.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\n"
        "for layer in [model.layer1, model.layer2]:\n    layer.requires_grad = False\n",
        "import torch.nn as nn\nimport torchvision\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.backbone = torchvision.models.resnet18()\n"
        "net = Net()\nnet.backbone.requires_grad = False\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def freeze(self):\n        self.requires_grad = False\n",
    )
    silent = (
        "import torchvision\nmodel = torchvision.models.resnet18()\n"
        "for p in model.parameters():\n    p.requires_grad = False\n",
        "import torch.nn as nn\nclass Scales(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.rank = nn.ParameterDict({})\n    def add(self, k):\n        self.rank[k].requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\n"
        "for name, p in model.named_parameters():\n    p.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\nmodel.fc.weight.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\nmodel.requires_grad_(False)\n",
        "import torch\nx = torch.zeros(3)\nx.requires_grad = True\n",
        "def freeze(thing):\n    thing.requires_grad = False\n",
        "import torchvision\nmodel = torchvision.models.resnet18()\nmodel = make_unknown()\nmodel.requires_grad = False\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.scale = nn.Parameter(torch.ones(1))\n        self.scale.requires_grad = False\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    pass\nnet = Net()\nnet.mask.requires_grad = False\n",
        "class Config:\n    def set(self):\n        self.requires_grad = False\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        values = ctx.analysis.values
        for store in ctx.analysis.facts.attribute_stores:
            if store.target.attr.value != "requires_grad":
                continue
            if values.kind_of(store.target.value, store.scope) is not Kind.MODULE:
                continue
            receiver = ctx.code(store.target.value)
            flag = ctx.code(store.value) if store.value is not None else "..."
            yield ctx.report(
                self,
                store.target,
                f"`{receiver}` is an nn.Module: "
                f"{unchanged(ctx, store, 'assigning `requires_grad` on it only adds a plain attribute')}; "
                f"call `{receiver}.requires_grad_({flag})`",
                fix_message=f"Call `{receiver}.requires_grad_({flag})`",
                edits=assignment_to_requires_grad_call(ctx, store),
            )
