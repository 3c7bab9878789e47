from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import FileAnalysis
from featlint.analysis.architectures import NewLayer, returned_values
from featlint.analysis.calls import argument
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.rules.fl306_head_classes_mismatch import CROSS_ENTROPY, losses, new_heads


class SoftmaxBeforeCrossEntropy(Rule):
    """
    ## What it does
    Finds a model whose output is already a softmax while the file trains it with `nn.CrossEntropyLoss` or
    `F.cross_entropy`: a new head put into a torchvision or timm model that ends in `nn.Softmax`
    (`model.fc = nn.Sequential(nn.Linear(2048, 10), nn.Softmax(dim=1))`), or a forward of the file's own
    `nn.Module` whose every `return` applies softmax (`F.softmax`, `torch.softmax`, `x.softmax()`, or a
    `self.<layer>` that is an `nn.Softmax` or ends in one), or a training loss computed on a softmax
    (`criterion(F.softmax(outputs, dim=1), labels)`, directly or through a name, whose result goes to
    `backward()`; a softmax given as the soft *target* is fine). It stays silent when the file also uses
    `NLLLoss`, and on softmax applied outside the forward (at inference).

    `nn.LogSoftmax` is not reported: log-softmax is idempotent, so cross-entropy over log-softmax outputs
    computes the same loss and gradients as over the logits. The layer is redundant, not wrong.

    ## Why is this bad?
    Cross-entropy applies log-softmax itself. Fed probabilities, it computes the softmax of values squashed
    into [0, 1]: the loss cannot go much below its starting value, gradients shrink as the model grows
    confident, and training is slow and ends worse, without any error.

    ## Example
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Sequential(nn.Linear(model.fc.in_features, 10), nn.Softmax(dim=1))
    criterion = nn.CrossEntropyLoss()
    ```

    ## Use instead
    ```python
    import torch.nn as nn
    from torchvision import models

    model = models.resnet50(weights=models.ResNet50_Weights.DEFAULT)
    model.fc = nn.Linear(model.fc.in_features, 10)
    criterion = nn.CrossEntropyLoss()
    # probabilities at inference only: model(x).softmax(dim=1)
    ```
    """

    code = "FL308"
    name = "softmax-before-cross-entropy"
    severity = Severity.WARNING
    summary = "The model outputs a softmax and the loss is cross-entropy, which applies log-softmax itself"
    requires_tokens = ("oftmax",)
    fires = (
        "import torch\nimport torch.nn.functional as F\nimport torchvision\nimport pytorch_lightning as pl\n"
        "class Classifier(pl.LightningModule):\n    def __init__(self):\n        super().__init__()\n"
        "        self.model = torchvision.models.resnet18(weights='DEFAULT')\n"
        "        self.model.fc = torch.nn.Linear(512, 10)\n    def forward(self, x):\n"
        "        return F.softmax(self.model(x), dim=1)\n    def training_step(self, batch, batch_idx):\n"
        "        x, y = batch\n        return F.cross_entropy(self(x), y)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\nfrom torchvision import models\n"
        "m = models.vgg16(weights='DEFAULT')\nhead = nn.Sequential(nn.Linear(4096, 5), nn.Softmax(dim=1))\n"
        "m.classifier[6] = head\nloss = F.cross_entropy(m(x), y)\n",
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(128, 10)\n"
        "    def forward(self, x):\n        return F.softmax(self.fc(x), dim=1)\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.head = nn.Sequential(nn.Linear(128, 10), nn.Softmax(1))\n"
        "    def forward(self, x):\n        return self.head(x)\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\ncriterion = nn.CrossEntropyLoss()\n"
        "for x, y in loader:\n    out = model(x)\n    probs = F.softmax(out, dim=1)\n    loss = criterion(probs, y)\n"
        "    loss.backward()\n",
        "import torch\nimport torch.nn.functional as F\ndef step(model, x, y):\n"
        "    loss = F.cross_entropy(torch.softmax(model(x), 1), y)\n    loss.backward()\n",
        "import timm\nimport torch.nn as nn\nmodel = timm.create_model('resnet50', pretrained=True)\n"
        "model.fc = nn.Sequential(nn.Linear(2048, 10), nn.Softmax(dim=1))\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch.nn as nn\nsoftmax = nn.Softmax(dim=1)\ncriterion = nn.CrossEntropyLoss()\nfor x, y in loader:\n"
        "    loss = criterion(softmax(model(x)), y)\n    loss.backward()\n",
    )
    silent = (
        "import torch\nimport torch.nn.functional as F\nimport torchvision\nimport pytorch_lightning as pl\n"
        "class Classifier(pl.LightningModule):\n    def __init__(self):\n        super().__init__()\n"
        "        self.model = torchvision.models.resnet18(weights='DEFAULT')\n"
        "        self.model.fc = torch.nn.Linear(512, 10)\n    def forward(self, x):\n"
        "        return F.softmax(self.model(x), dim=1)\n    def training_step(self, batch, batch_idx):\n"
        "        x, y = batch\n        return F.cross_entropy(self.model(x), y)\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50(weights='DEFAULT')\n"
        "m.fc = nn.Sequential(nn.Linear(2048, 10), nn.LogSoftmax(dim=1))\ncriterion = nn.NLLLoss()\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50(weights='DEFAULT')\n"
        "m.fc = nn.Sequential(nn.Linear(2048, 10), nn.LogSoftmax(dim=1))\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch\nimport torch.nn as nn\nfrom torchvision import models\nm = models.resnet50(weights='DEFAULT')\n"
        "m.fc = nn.Linear(2048, 10)\ncriterion = nn.CrossEntropyLoss()\nprobs = torch.softmax(m(x), dim=1)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(128, 10)\n"
        "    def forward(self, x):\n        if self.training:\n            return self.fc(x)\n"
        "        return F.softmax(self.fc(x), dim=1)\ncriterion = nn.CrossEntropyLoss()\n",
        "import torch.nn as nn\nfrom torchvision import models\nm = models.resnet50(weights='DEFAULT')\n"
        "m.fc = nn.Sequential(nn.Linear(2048, 10), nn.Softmax(dim=1))\ncriterion = nn.MSELoss()\n",
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\ncriterion = nn.CrossEntropyLoss()\n"
        "def validate(model, x, y):\n    with torch.no_grad():\n        return criterion(F.softmax(model(x), 1), y)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\ncriterion = nn.CrossEntropyLoss()\n"
        "for x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\nfor x, y in val_loader:\n"
        "    val_loss = criterion(F.softmax(model(x), dim=1), y)\n",
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\ncriterion = nn.CrossEntropyLoss()\n"
        "for x, y in loader:\n    out = model(x)\n    loss = criterion(out, F.softmax(teacher(x), dim=1))\n"
        "    loss.backward()\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        used = losses(ctx.analysis)
        entropy = [call for name, call in used.items() if name in CROSS_ENTROPY]
        if not entropy or "NLLLoss" in used or "nll_loss" in used:
            return
        def where() -> str:  # a line number costs position metadata: only when reporting
            return f"the loss is cross-entropy ({ctx.where(entropy[0])}), which applies log-softmax itself"

        for head in new_heads(ctx.analysis):
            softmax = _final_softmax(head.layer)
            if softmax is not None:
                yield ctx.report(
                    self, softmax.node,
                    f"`{ctx.code(head.assignment.target)}` ends in nn.Softmax and {where()}: it gets probabilities "
                    "squashed into [0, 1], gradients shrink and training stalls; drop the Softmax and apply it "
                    "only at inference",
                )
        for target, softmax in _timm_heads(ctx.analysis):
            yield ctx.report(
                self, softmax.node,
                f"`{ctx.code(target)}` ends in nn.Softmax and {where()}: it gets probabilities squashed into [0, 1], "
                "gradients shrink and training stalls; drop the Softmax and apply it only at inference",
            )
        for softmax, loss in _softmax_into_loss(ctx.analysis):
            yield ctx.report(
                self, softmax,
                f"this softmax is the input of the cross-entropy on {ctx.where(loss)}, which applies log-softmax "
                "itself: the training loss sees probabilities squashed into [0, 1], gradients shrink and training "
                "stalls; pass the logits to the loss and apply softmax only for predictions",
            )
        for node in _softmax_forwards(ctx.analysis):
            yield ctx.report(
                self, node,
                f"this forward returns a softmax and {where()}: it gets probabilities squashed into [0, 1], "
                f"gradients shrink and training stalls; return the logits and apply softmax only at inference",
            )


def _timm_heads(analysis: FileAnalysis) -> Iterator[tuple[cst.BaseExpression, NewLayer]]:
    """A layer ending in nn.Softmax put into a timm model (`model.head = nn.Sequential(..., nn.Softmax(1))`)."""
    archs = analysis.architectures
    for store in analysis.facts.attribute_stores:
        if store.value is None or not isinstance(store.target, cst.Attribute):
            continue
        if not archs.is_timm_model(store.target.value, store.scope):
            continue
        softmax = _final_softmax(archs.new_layer(store.value, store.scope))
        if softmax is not None:
            yield store.target, softmax


def _softmax_into_loss(analysis: FileAnalysis) -> Iterator[tuple[cst.Call, cst.Call]]:
    """`criterion(F.softmax(outputs, 1), labels)` (or the softmax held in a name first) where `criterion` is an
    `nn.CrossEntropyLoss()` or the call is `F.cross_entropy`, and the loss is backpropagated (`loss.backward()`
    on it, or on a name bound to an expression holding it). A validation loss computed the same way changes no
    weight and is not reported."""
    names = analysis.names
    seen: set[int] = set()
    for loss, scope in _backpropagated(analysis):
        if id(loss) in seen:
            continue
        seen.add(id(loss))
        for node in _calls_in(loss):
            if _is_cross_entropy(analysis, node, scope):
                given = argument(node, 0, "input")
                softmax = _softmax_value(names, given, scope) if given is not None else None
                if softmax is not None:
                    yield softmax, node


def _backpropagated(analysis: FileAnalysis) -> Iterator[tuple[cst.BaseExpression, Scope]]:
    """The expressions `backward()` is called on: `X.backward()` itself, and every value bound to the name X."""
    for site in analysis.facts.calls:
        func = site.node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "backward"):
            continue
        yield func.value, site.scope
        if isinstance(func.value, cst.Name):
            for binding in site.scope.lookup(func.value.value):
                if binding.kind == "assign" and binding.value is not None:
                    yield binding.value, binding.scope


def _calls_in(expr: cst.BaseExpression) -> Iterator[cst.Call]:
    """The calls a loss expression is made of: `criterion(...)`, its `.mean()`, sums and scalings of losses, and
    the calls they are arguments of (`torch.mean(criterion(...))`)."""
    stack = [expr]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call):
            yield current
            stack.extend(arg.value for arg in current.args)
            if isinstance(current.func, cst.Attribute):
                stack.append(current.func.value)
        elif isinstance(current, cst.BinaryOperation):
            stack.extend((current.left, current.right))
        elif isinstance(current, cst.UnaryOperation):
            stack.append(current.expression)
        elif isinstance(current, (cst.Attribute, cst.Subscript)):
            stack.append(current.value)


def _is_cross_entropy(analysis: FileAnalysis, call: cst.Call, scope: Scope) -> bool:
    names = analysis.names
    if names.call_name(call, scope) == "torch.nn.functional.cross_entropy":
        return True
    if not isinstance(call.func, cst.Name):
        return False
    bindings = scope.lookup(call.func.value)
    return bool(bindings) and all(
        b.kind == "assign" and not b.element and isinstance(b.value, cst.Call)
        and names.call_name(b.value, b.scope) == "torch.nn.CrossEntropyLoss"
        for b in bindings
    )


def _softmax_value(names: NameResolver, expr: cst.BaseExpression, scope: Scope) -> cst.Call | None:
    """The softmax call `expr` is, or that every binding of the name `expr` holds."""
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
            return expr  # F.softmax(x), torch.softmax(x), x.softmax(1)
        return expr if _is_softmax_layer(names, func, scope) else None  # nn.Softmax(1)(x), or a name bound to one
    if isinstance(expr, cst.Name):
        bindings = scope.lookup(expr.value)
        found = [_softmax_value(names, b.value, b.scope) if b.kind == "assign" and not b.element and b.value is not None
                 and not isinstance(b.value, cst.Name) else None for b in bindings]
        return found[0] if found and all(found) else None
    return None


def _is_softmax_layer(names: NameResolver, expr: cst.BaseExpression, scope: Scope) -> bool:
    if isinstance(expr, cst.Call):
        return names.call_name(expr, scope) == "torch.nn.Softmax"
    if isinstance(expr, cst.Name):
        bindings = scope.lookup(expr.value)
        return bool(bindings) and all(
            b.kind == "assign" and not b.element and isinstance(b.value, cst.Call)
            and names.call_name(b.value, b.scope) == "torch.nn.Softmax" for b in bindings
        )
    return False


def _final_softmax(layer: NewLayer | None) -> NewLayer | None:
    """The nn.Softmax a layer ends in (itself, or the last layer of a Sequential, nested or not)."""
    while layer is not None and layer.type == "Sequential":
        layer = layer.layers[-1] if layer.layers else None
    return layer if layer is not None and layer.type == "Softmax" else None


def _softmax_forwards(analysis: FileAnalysis) -> Iterator[cst.CSTNode]:
    """The returned softmax of each forward of the file's own modules whose every return is a softmax."""
    facts = analysis.facts
    for classes in facts.classes.values():
        for klass in classes:
            if not analysis.values.is_module_class(klass):
                continue
            forward = next((b.node for b in facts.scopes[klass].bindings.get("forward", [])
                            if isinstance(b.node, cst.FunctionDef)), None)
            if not isinstance(forward, cst.FunctionDef) or forward not in facts.scopes:
                continue
            scope = facts.scopes[forward]
            returned = returned_values(facts, forward)
            if _loss_bypasses_forward(analysis, klass):
                continue
            if returned and all(value is not None and _is_softmax(analysis, klass, value, scope) for value in returned):
                yield from (value for value in returned if value is not None)


def _loss_bypasses_forward(analysis: FileAnalysis, klass: cst.ClassDef) -> bool:
    """A module that computes its cross-entropy in its own methods (a LightningModule's `training_step`) without
    ever calling `self(...)` or `self.forward(...)`: the loss gets what the inner model returns, and the softmax
    of `forward` serves predictions only."""
    computes_loss = calls_forward = False
    for site in analysis.facts.calls:
        scope = site.scope
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        if scope.owner_class is not klass:
            continue
        func = site.node.func
        if isinstance(func, cst.Name) and func.value == scope.self_name:
            calls_forward = True
        elif (isinstance(func, cst.Attribute) and func.attr.value == "forward" and isinstance(func.value, cst.Name)
              and func.value.value == scope.self_name):
            calls_forward = True
        elif _is_cross_entropy(analysis, site.node, site.scope):
            computes_loss = True
    return computes_loss and not calls_forward


def _is_softmax(analysis: FileAnalysis, klass: cst.ClassDef, value: cst.BaseExpression, scope: Scope) -> bool:
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and func.attr.value == "softmax":
        return True  # F.softmax(x), torch.softmax(x), x.softmax(dim=1)
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == scope.self_name:
        bindings = analysis.facts.class_attributes.get(klass, {}).get(func.attr.value, [])
        archs = analysis.architectures
        return bool(bindings) and all(
            b.kind == "assign" and b.value is not None
            and _final_softmax(archs.new_layer(b.value, b.scope)) is not None
            for b in bindings
        )
    return False
