from __future__ import annotations

from collections.abc import Callable, Iterator

from featlint.analysis.story import STORY_TOKENS, Event, EventKind, Model
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule


class NotebookOutOfOrder(Rule):
    """
    ## What it does
    In a notebook, reads the execution counts Jupyter saved (`In [4]`) and finds an optimizer cell that
    ran before a cell above it which builds the model, replaces its head or freezes part of it. Notebooks
    saved without counts, or run top to bottom, are never reported. The examples below are notebooks in
    nbconvert's script form: `# In[4]:` starts a code cell that ran fourth.

    ## Why is this bad?
    The kernel's state is what the cells did in the order they ran, not the order they are read in. An
    optimizer built before the head was replaced holds the parameters of the discarded head, so the new
    head never trains; one built before the model was (re)built holds the parameters of a model nobody
    uses any more, so nothing trains; one built before the freeze keeps state for the frozen parameters.
    Reading the notebook top to bottom shows none of this, and "Restart & Run All" would behave differently.

    ## Example
    ```python
    # In[1]:
    import torch
    import torchvision
    model = torchvision.models.resnet18(weights="DEFAULT")

    # In[3]:
    model.fc = torch.nn.Linear(512, 10)

    # In[2]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```

    ## Use instead
    ```python
    # In[1]:
    import torch
    import torchvision
    model = torchvision.models.resnet18(weights="DEFAULT")

    # In[2]:
    model.fc = torch.nn.Linear(512, 10)

    # In[3]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```
    """

    code = "FL002"
    name = "notebook-out-of-order"
    severity = Severity.WARNING
    summary = "The notebook's cells ran in an order that leaves the optimizer holding the wrong parameters"
    requires_tokens = STORY_TOKENS
    examples_are_notebooks = True
    fires = (
        "# In[1]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[3]:\nmodel.fc = torch.nn.Linear(512, 2)\n# In[2]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        "# In[5]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[4]:\nopt = torch.optim.Adam(model.parameters())\n",
        "# In[1]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[3]:\nfor p in model.parameters():\n    p.requires_grad = False\n"
        "# In[2]:\nopt = torch.optim.Adam(model.parameters())\n",
    )
    silent = (
        "# In[ ]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[ ]:\nmodel.fc = torch.nn.Linear(512, 2)\n# In[ ]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        "# In[1]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[2]:\nmodel.fc = torch.nn.Linear(512, 2)\n# In[3]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        # The optimizer cell above ran first, but a later cell built a new optimizer after the head changed.
        "# In[1]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[3]:\nmodel.fc = torch.nn.Linear(512, 2)\n# In[2]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "# In[4]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        # Out of order, but nothing the optimizer depends on: a data cell ran late.
        "# In[1]:\nimport torch, torchvision\nmodel = torchvision.models.resnet18(weights='DEFAULT')\n"
        "# In[3]:\ndata = [1, 2, 3]\n# In[2]:\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    )

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        notebook = ctx.notebook
        if notebook is None:
            return
        story = ctx.analysis.story

        def count(event: Event) -> int | None:
            cell = notebook.cell_at(ctx.line(event.node))
            return cell.execution_count if cell is not None and event.module_level else None

        optimizers = [(built, count(built)) for built in story.of(EventKind.OPTIMIZER)]
        for built, ran in optimizers:
            if ran is None or built.optimizer is None or not built.optimizer.known:
                continue
            models = {id(m): m for m in (p.located()[0] for p in built.optimizer.holdings())}
            for model in models.values():
                change = self._late_change(story.on(model), built, ran, count)
                if change is None:
                    continue
                later = change[1]
                # A newer optimizer over this model, built after the change, is the one that trains.
                if any(other is not built and n is not None and n > later and self._over(other, model)
                       for other, n in optimizers):
                    continue
                yield ctx.report(self, built.node, self._message(ctx, change[0], ran, later))
                break

    @staticmethod
    def _over(built: Event, model: Model) -> bool:
        assert built.optimizer is not None
        return not built.optimizer.known or any(p.located()[0] is model for p in built.optimizer.holdings())

    @staticmethod
    def _late_change(
        events: list[Event], built: Event, ran: int, count: Callable[[Event], int | None]
    ) -> tuple[Event, int] | None:
        """The first event above the optimizer, in another cell, that ran after it and changes what the
        optimizer should hold: the model built, a head with parameters put in, parameters frozen."""
        for event in events:
            if event.order >= built.order or event.conditional:
                continue
            relevant = (
                event.kind is EventKind.BUILD
                or (event.kind is EventKind.HEAD and event.has_params)
                or (event.kind is EventKind.FREEZE and event.value is False)
            )
            later = count(event) if relevant else None
            if later is not None and later > ran:
                return event, later
        return None

    @staticmethod
    def _message(ctx: FileContext, change: Event, ran: int, later: int) -> str:
        assert ctx.notebook is not None
        cell, row, _ = ctx.notebook.locate(ctx.line(change.node), 1)
        action, effect = {
            EventKind.BUILD: ("built the model", "the optimizer holds the parameters of the model that was there "
                              "before, so training the rebuilt model updates nothing"),
            EventKind.HEAD: (f"replaced `{change.named(ctx.code)}`", "the optimizer holds the parameters of the "
                             "discarded head, so the new head never trains"),
            EventKind.FREEZE: ("froze parameters", "the optimizer holds the frozen parameters and keeps state "
                               "for them (with momentum or weight decay they can keep moving)"),
        }[change.kind]
        return (
            f"this optimizer was built (In [{ran}]) before cell {cell} {action} (its line {row}, In [{later}]), "
            f"although the notebook reads the other way round: {effect}; restart the kernel and run the cells "
            "top to bottom"
        )
