import re
from collections import Counter
from collections.abc import Iterator

from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules._requires_grad import unchanged
from featlint.rules.base import Rule

_RIGHT = "requires_grad"
_RIGHT_LETTERS = tuple(Counter(_RIGHT).items())
# Runs of the characters Python identifiers are made of (\w plus the few Other_ID_Start/Continue ones).
_WORD = re.compile(r"[\w\u00b7\u0387\u1369-\u1371\u19da\u1885\u1886\u2118\u212e\u309b\u309c]+")


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


def _may_be_near(word: str) -> bool:
    """A necessary condition for `_distance(word.lower(), _RIGHT) <= 2`, about 50x cheaper: two edits change
    the length by at most two and can supply at most two of the letters `requires_grad` needs."""
    lower = word.lower()
    if abs(len(lower) - len(_RIGHT)) > 2:
        return False
    return sum(max(0, count - lower.count(letter)) for letter, count in _RIGHT_LETTERS) <= 2


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
    `requires_grad` keeps its old value. Written `False` to freeze, nothing is frozen: the whole backbone keeps
    training while you believe it is fixed, and the optimizer updates all of it. Written `True` to unfreeze
    layers after a freeze, nothing is unfrozen: those layers stay frozen and never train. An augmented
    assignment (`|=`) reads the misspelt attribute first and raises `AttributeError`.

    ## Example
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    for param in model.parameters():
        param.require_grad = False
    ```

    ## Use instead
    ```python
    import torchvision

    model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.DEFAULT)
    for param in model.parameters():
        param.requires_grad = False
    ```

    ## Fix safety
    The fix renames the attribute. It is safe in the sense that it does what the line was written to do,
    but it does change training: from now on the parameters are frozen (or unfrozen) as the line says.
    """

    code = "FL101"
    name = "requires-grad-typo"
    severity = Severity.ERROR
    summary = "A misspelled `requires_grad` creates a new attribute: nothing is frozen or unfrozen"
    fixable = True
    # No fixed substring: a typo can change any letter, so `may_fire` looks for a near-miss identifier.
    requires_tokens = None
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

    @classmethod
    def may_fire(cls, source: str) -> bool:
        return any(_may_be_near(word) and is_requires_grad_typo(word) for word in set(_WORD.findall(source)))

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for store in ctx.analysis.facts.attribute_stores:
            attribute = store.target.attr
            if not is_requires_grad_typo(attribute.value):
                continue
            yield ctx.report(
                self,
                store.target,
                f"`{attribute.value}` is not `requires_grad`: {unchanged(ctx, store, 'this sets a new attribute')}; "
                "write `requires_grad`",
                fix_message=f"Rename `{attribute.value}` to `requires_grad`",
                edits=[ctx.replace(attribute, _RIGHT)],
            )
