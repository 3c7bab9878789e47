from collections.abc import Iterator

from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

_RIGHT = "requires_grad"


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swapped pair of letters is one typo."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def is_requires_grad_typo(attribute: str) -> bool:
    if attribute in (_RIGHT, "requires_grad_") or attribute.startswith("_"):
        return False  # `_requires_grad` is a private field of some tensor-like class, not a typo
    return _distance(attribute.lower(), _RIGHT) <= 2


class RequiresGradTypo(Rule):
    """
    ## What it does
    Finds assignments to a misspelled `requires_grad` attribute: `require_grad`, `requires_grads`,
    `required_grad`, `requries_grad`, `requiresGrad` and other near misses.

    ## Why is this bad?
    Python does not complain: the assignment creates a new attribute on the parameter or module, and
    `requires_grad` keeps its old value. Nothing is frozen, so the whole backbone keeps training while you
    believe it is fixed, and the optimizer updates all of it.

    ## Example
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    for param in model.parameters():
        param.require_grad = False
    ```

    ## Use instead
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    for param in model.parameters():
        param.requires_grad = False
    ```

    ## Fix safety
    The fix renames the attribute. It is safe in the sense that it does what the line was written to do,
    but it does change training: the parameters are frozen from now on.
    """

    code = "FL101"
    name = "requires-grad-typo"
    severity = Severity.ERROR
    summary = "A misspelled `requires_grad` creates a new attribute and freezes nothing"
    fixable = True
    fires = (
        "for p in model.parameters():\n    p.require_grad = False\n",
        "x.requires_grads = True\n",
        "a.requries_grad = b.requires_grad = False\n",
        "p.requiresGrad: bool = False\n",
        "p.required_grad |= True\n",
    )
    silent = (
        "for p in model.parameters():\n    p.requires_grad = False\n",
        "model.requires_grad_(False)\n",
        "x.retain_grad = True\nx.grad_fn = None\nx.require = 1\n",
        "print(p.require_grad)\n",
        "class Flag:\n    def __init__(self, on):\n        self._requires_grad = on\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for store in ctx.analysis.facts.attribute_stores:
            attribute = store.target.attr
            if not is_requires_grad_typo(attribute.value):
                continue
            yield ctx.report(
                self,
                store.target,
                f"`{attribute.value}` is not `requires_grad`: this creates a new attribute and freezes "
                f"nothing, so these parameters keep training; write `requires_grad`",
                fix_message=f"Rename `{attribute.value}` to `requires_grad`",
                edits=[ctx.replace(attribute, _RIGHT)],
            )
