from featlint.diagnostics import Severity
from featlint.rules.base import InputRule


class UnreadableFile(InputRule):
    """
    ## What it does
    Reports a file that featlint cannot read or parse: a syntax error (at the parser's line and column), a
    file that is not valid in its declared encoding (UTF-8 unless a PEP 263 `# -*- coding: ... -*-` line says
    otherwise), a binary file, a path that does not exist or cannot be opened.

    ## Why is this bad?
    Python cannot run such a file either, and featlint cannot check it: none of its other rules looked at it.
    The other files of the run are still linted.

    ## Example
    ```python
    model = torchvision.models.resnet18(weights=None
    ```

    ## Use instead
    ```python
    model = torchvision.models.resnet18(weights=None)
    ```
    """

    code = "FL001"
    name = "unreadable-file"
    severity = Severity.ERROR
    summary = "The file cannot be read or parsed, so nothing in it was checked"
    fires = ("def f(:\n    pass\n", "x = (1,\n")
    silent = ("x = 1\n", "")
