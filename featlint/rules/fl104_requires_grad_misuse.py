from collections.abc import Iterator

from featlint.context import FileContext
from featlint.startup.deferred import cst
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules._edits import assignment_to_requires_grad_call
from featlint.rules._requires_grad import unchanged
from featlint.rules.base import Rule


class RequiresGradMisuse(Rule):
    """
    ## What it does
    Finds `requires_grad` called like a method (`p.requires_grad(False)`, `model.requires_grad(False)`) and the
    method `requires_grad_` overwritten by an assignment (`model.requires_grad_ = False`).

    ## Why is this bad?
    `requires_grad` is a boolean flag: calling it raises `TypeError: 'bool' object is not callable` on a
    tensor and `AttributeError` on a module, so the script stops before training. Assigning to
    `requires_grad_` silently replaces the method with a value: nothing is frozen, and later calls of
    `requires_grad_()` on that object fail.

    ## Example
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    model.requires_grad(False)
    model.fc.requires_grad_ = True
    ```

    ## Use instead
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    model.requires_grad_(False)
    model.fc.requires_grad_(True)
    ```
    """

    code = "FL104"
    name = "requires-grad-misuse"
    severity = Severity.ERROR
    summary = "`requires_grad` called as a method, or the method `requires_grad_` overwritten"
    fixable = True
    requires_tokens = ("requires_grad",)  # `requires_grad(...)` and `requires_grad_ = ...`
    fires = (
        "p.requires_grad(False)\n",
        "model.fc.requires_grad()\n",
        "model.requires_grad_ = False\n",
        "for p in params:\n    p.requires_grad_ = False\n",
    )
    silent = (
        "model.requires_grad_(False)\n",
        "p.requires_grad = False\n",
        "flag = p.requires_grad\n",
        "print(p.requires_grad_)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for site in ctx.analysis.facts.calls:
            func = site.node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad":
                receiver = ctx.code(func.value)
                yield ctx.report(
                    self,
                    site.node,
                    f"`requires_grad` is a flag, not a method: this call raises before training starts; "
                    f"call `{receiver}.requires_grad_(...)`",
                    fix_message="Call `requires_grad_` instead",
                    edits=[ctx.replace(func.attr, "requires_grad_")],
                )
        for store in ctx.analysis.facts.attribute_stores:
            if store.target.attr.value != "requires_grad_":
                continue
            receiver = ctx.code(store.target.value)
            yield ctx.report(
                self,
                store.target,
                f"{unchanged(ctx, store, f'this assignment replaces the method `requires_grad_` of `{receiver}`')}; "
                f"call `{receiver}.requires_grad_(...)`",
                fix_message="Call `requires_grad_` instead of assigning to it",
                edits=assignment_to_requires_grad_call(ctx, store),
            )
