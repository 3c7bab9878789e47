from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.calls import string_literal
from featlint.analysis.story import STORY_TOKENS, EventKind, Model
from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# Names people give the head when they select its parameters by name.
_HEAD_WORDS = frozenset({"fc", "classifier", "head", "heads"})


def _literals(test: cst.BaseExpression) -> Iterator[tuple[cst.CSTNode, str, bool]]:
    """(node, literal, is_prefix) for `'fc' in name`, `'fc' not in name` and `name.startswith('fc')`."""
    stack: list[cst.CSTNode] = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
            operator = node.comparisons[0].operator
            literal = string_literal(node.left)
            if literal is not None and isinstance(operator, (cst.In, cst.NotIn)):
                yield node, literal, False
                continue
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "startswith":
            literal = string_literal(node.args[0].value) if len(node.args) == 1 else None
            if literal is not None:
                yield node, literal, True
                continue
        stack.extend(child for child in node.children if isinstance(child, cst.BaseExpression))


class HeadSelectedBySubstring(Rule):
    """
    ## What it does
    Finds parameters picked for the head (to train it, to give it its own learning rate, or to exclude it
    from freezing) by a name test such as `'fc' in name` that, in this architecture, also matches other
    layers: the squeeze-and-excitation `fc1`/`fc2` of regnet_y, efficientnet and mobilenet_v3, or
    googlenet's auxiliary heads. The message lists what else matches. It uses the parameter names of every
    torchvision architecture, recorded from torchvision itself.

    ## Why is this bad?
    The selection silently takes dozens of backbone parameters with the head (so they are not frozen, or
    train at the head's rate), or misses the real head altogether (efficientnet's head is `classifier`,
    not `fc`). Nothing fails; the model just does not train the way the code says.

    ## Example
    ```python
    import torchvision

    model = torchvision.models.efficientnet_b0(weights="DEFAULT")
    for name, param in model.named_parameters():
        if "fc" not in name:
            param.requires_grad = False
    ```

    ## Use instead
    ```python
    import torchvision

    model = torchvision.models.efficientnet_b0(weights="DEFAULT")
    for name, param in model.named_parameters():
        if not name.startswith("classifier."):
            param.requires_grad = False
    ```
    """

    code = "FL206"
    name = "head-selected-by-substring"
    severity = Severity.WARNING
    summary = "A name test meant to pick the head also matches other layers of the architecture"
    requires_tokens = STORY_TOKENS
    fires = (
        "import torch, torchvision\nm = torchvision.models.regnet_y_400mf(weights='DEFAULT')\n"
        "head = [p for n, p in m.named_parameters() if 'fc' in n]\nopt = torch.optim.SGD(head, lr=0.01)\n",
        "import torchvision\nm = torchvision.models.mobilenet_v3_large(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('classifier') and 'fc' not in name:\n"
        "        p.requires_grad = False\n",
    )
    silent = (
        "import torchvision\nm = torchvision.models.resnet18(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if 'fc' not in name:\n        p.requires_grad = False\n",
        "import torchvision\nm = torchvision.models.regnet_y_400mf(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if not name.startswith('fc.'):\n        p.requires_grad = False\n",
        "import torchvision\nm = torchvision.models.vgg16(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if 'classifier' not in name:\n        p.requires_grad = False\n",
        "import torchvision\nm = torchvision.models.efficientnet_b0(weights='DEFAULT')\n"
        "for name, p in m.named_parameters():\n    if 'features.7' not in name:\n        p.requires_grad = False\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        story = ctx.analysis.story
        selections: list[tuple[Model, tuple[str, ...], cst.BaseExpression]] = []
        for freeze in story.of(EventKind.FREEZE):
            if freeze.selector is not None and freeze.model is not None:
                selections.append((*freeze.located(), freeze.selector))  # type: ignore[arg-type]
        for _built, held in story.holdings():
            if held.selector is not None:
                selections.append((*held.located(), held.selector))
        reported: set[int] = set()
        for model, path, selector in selections:
            if path or model.builder is None or id(selector) in reported:
                continue
            architecture = tv.architecture(model.builder)
            if architecture is None:
                continue
            for node, literal, prefix in _literals(selector):
                message = self._misfit(model.builder, architecture.head, literal, prefix)
                if message is not None:
                    reported.add(id(selector))
                    yield ctx.report(self, node, message)

    @staticmethod
    def _misfit(builder: tv.Builder, head: str, literal: str, prefix: bool) -> str | None:
        if literal.rstrip(".") not in _HEAD_WORDS:
            return None
        names = tv.parameter_names(builder)
        matched = [n for n in names if (n.startswith(literal) if prefix else literal in n)]
        root = head.split(".")[0] + "."
        others = [n for n in matched if not n.startswith(root)]
        if not others:
            return None
        head_name = tv.display_path(head)
        test = f"name.startswith({literal!r})" if prefix else f"{literal!r} in name"
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        caught = "" if len(others) < len(matched) else f", and none of the head `{head_name}`"
        return (
            f"in {builder.name}, `{test}` also matches {len(others)} parameters outside the head `{head_name}` "
            f"({shown}){caught}; select the head by prefix, e.g. `name.startswith({root!r})`"
        )
