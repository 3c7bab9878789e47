from __future__ import annotations

import re
from collections.abc import Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule

# Containers: the value a re-run finds at the path has none of the replaced layer's attributes.
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_SIZE = r"\.(in_features|in_channels|out_features|out_channels)\b"


class CellNotRerunnable(Rule):
    """
    ## What it does
    In a notebook, finds a cell that replaces a layer with a container (`nn.Sequential`, `nn.ModuleList`,
    `nn.ModuleDict`) built from that same layer: its size (`model.fc.in_features`, read in the new value or
    earlier in the cell) or the layer itself (`nn.Sequential(model.fc, ...)`). Silent when the cell builds the
    model first, since each run then starts from a fresh model. The examples below are notebooks in
    nbconvert's script form: `# In[2]:` starts a code cell.

    ## Why is this bad?
    Notebook cells get run twice: after an edit, by accident, by "run all above". The second run finds the
    container the first run put there: `model.fc.in_features` raises `AttributeError: 'Sequential' object has
    no attribute 'in_features'`, and `nn.Sequential(model.fc, ...)` wraps the new head in another one, so the
    model gains a layer per run and its output size no longer matches.

    ## Example
    ```python
    # In[1]:
    import torch.nn as nn
    import torchvision
    model = torchvision.models.resnet18(weights="DEFAULT")

    # In[2]:
    model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(model.fc.in_features, 10))
    ```

    ## Use instead
    ```python
    # In[1]:
    import torch.nn as nn
    import torchvision
    model = torchvision.models.resnet18(weights="DEFAULT")
    features = model.fc.in_features

    # In[2]:
    model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(features, 10))
    ```
    """

    code = "FL003"
    name = "cell-not-rerunnable"
    severity = Severity.WARNING
    summary = "A notebook cell that fails or stacks another layer when it is run a second time"
    requires_tokens = STORY_TOKENS
    examples_are_notebooks = True
    fires = (
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.densenet121(weights='DEFAULT')\n"
        "# In[2]:\nnum_ftrs = model.classifier.in_features\n"
        "head = nn.Sequential(nn.Linear(num_ftrs, 256), nn.ReLU(), nn.Linear(256, 2))\nmodel.classifier = head\n",
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "# In[2]:\nmodel.fc = nn.Sequential(nn.Linear(model.fc.in_features, 256), nn.ReLU(), nn.Linear(256, 2))\n",
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "# In[2]:\nnum_ftrs = model.fc.in_features\nmodel.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(num_ftrs, 2))\n",
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "# In[2]:\nmodel.fc = nn.Sequential(model.fc, nn.ReLU(), nn.Linear(1000, 2))\n",
    )
    silent = (
        # The cell builds the model first: every run starts again from the pretrained layer.
        "# In[1]:\nimport torch.nn as nn, torchvision\n"
        "# In[2]:\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "model.fc = nn.Sequential(nn.Linear(model.fc.in_features, 256), nn.ReLU(), nn.Linear(256, 2))\n",
        # A Linear for a Linear: a second run reads the same `in_features` again.
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "# In[2]:\nmodel.fc = nn.Linear(model.fc.in_features, 2)\n",
        # The size was read in an earlier cell.
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "num_ftrs = model.fc.in_features\n"
        "# In[2]:\nmodel.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(num_ftrs, 2))\n",
        # The new head was built in an earlier cell: running this one again assigns the same object again.
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.densenet121(weights='DEFAULT')\n"
        "head = nn.Sequential(nn.Linear(model.classifier.in_features, 2))\n"
        "# In[2]:\nmodel.classifier = head\n",
        # Another layer's size.
        "# In[1]:\nimport torch.nn as nn, torchvision\nmodel = torchvision.models.resnet50(weights='DEFAULT')\n"
        "# In[2]:\nmodel.fc = nn.Sequential(nn.Linear(model.layer4[-1].conv3.out_channels, 2))\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        notebook = ctx.notebook
        if notebook is None:
            return
        story = ctx.analysis.story
        for head in story.of(EventKind.HEAD):
            if not head.module_level or head.conditional or head.loops or head.model is None:
                continue
            if head.layer is None:
                continue
            # The new value, following a name bound once (`classifier = nn.Sequential(...)`, then assigned).
            new = ctx.analysis.architectures.new_layer(head.layer, ctx.analysis.facts.module_scope)
            if new is None or new.type not in _CONTAINERS:
                continue
            part = notebook.part_at(ctx.line(head.node))
            built_at = ctx.line(new.node)
            if part is None or not part.first_row <= built_at <= ctx.line(head.node):
                continue  # built in another cell: running this one again assigns the same object again
            if self._built_in_cell(ctx, head, part.first_row):
                continue
            new_value = ctx.code(new.node)
            target = re.escape(ctx.code(head.node))
            reference = rf"(?<![\w.]){target}(?![\w\[])"
            # What the cell ran before this assignment, and the new value itself.
            before = "".join(ctx.source.splitlines(keepends=True)[part.first_row - 1: ctx.line(head.node) - 1])
            size = re.search(reference + _SIZE, before + new_value)
            wraps = re.search(reference + r"(?!\s*\.)", new_value) is not None
            if size is not None or wraps:
                attribute = size.group(1) if size is not None else None
                yield ctx.report(self, head.node, self._message(ctx, head, new.type, attribute))

    @staticmethod
    def _built_in_cell(ctx: FileContext, head: Event, first_row: int) -> bool:
        """The model the head goes into is built in this cell, above the assignment."""
        assert head.model is not None
        model = head.model.root()[0]
        return any(
            first_row <= ctx.line(built.node) <= ctx.line(head.node) and built.order < head.order
            for built in ctx.analysis.story.of(EventKind.BUILD, model)
        )

    @staticmethod
    def _message(ctx: FileContext, head: Event, container: str, attribute: str | None) -> str:
        target = ctx.code(head.node)
        if attribute is not None:
            problem = (
                f"running this cell again fails: `{target}` is then the `{container}` put there by the first "
                f"run (`AttributeError: '{container}' object has no attribute '{attribute}'`)"
            )
        else:
            problem = (
                f"running this cell again wraps the new `{target}` in another `{container}`: the model gains "
                "layers with every run and its output no longer matches the classes"
            )
        return (
            f"{problem}; read the size or keep the original layer in an earlier cell, or build the model at "
            "the top of this cell"
        )
