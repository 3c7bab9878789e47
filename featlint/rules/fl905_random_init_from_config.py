from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.hubs import HubKind
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class RandomInitFromConfig(Rule):
    """
    ## What it does
    Finds a Hugging Face classification model (`*ForSequenceClassification`, `*ForTokenClassification`,
    `*ForImageClassification`) built from a configuration loaded with `from_pretrained`, by
    `from_config(config)` or by the class itself (`BertForSequenceClassification(config)`), in a function
    that loads no model with `from_pretrained` (the usual `if checkpoint: ... else: from_config(...)` of
    pretraining scripts), in a file where no `load_state_dict` fills it.

    ## Why is this bad?
    A configuration holds the architecture's sizes, not its weights: `from_config` and the constructor
    initialise every weight at random. Fine-tuning that model starts from scratch, and on a small dataset
    reaches a fraction of the accuracy the pretrained checkpoint would give. No error is raised. This is
    the Hugging Face sibling of FL803.

    ## Example
    ```python
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained("bert-base-uncased", num_labels=3)
    model = AutoModelForSequenceClassification.from_config(config)
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
    ```
    """

    code = "FL905"
    name = "random-init-from-config"
    severity = Severity.WARNING
    summary = "A classification model built from a pretrained configuration has random weights"
    requires_tokens = ("from_config", "Config.from_pretrained")
    fires = (
        "import transformers\ncfg = transformers.BertConfig.from_pretrained('bert-base-uncased', num_labels=4)\n"
        "model = transformers.BertForSequenceClassification(cfg)\n",
        "from transformers import AutoConfig, AutoModelForImageClassification as M\n"
        "model = M.from_config(AutoConfig.from_pretrained('google/vit-base-patch16-224'))\n",
    )
    silent = (
        "from transformers import AutoConfig, AutoModelForSequenceClassification as M\n"
        "cfg = AutoConfig.from_pretrained('b')\nif args.checkpoint:\n"
        "    model = M.from_pretrained(args.checkpoint, config=cfg)\nelse:\n    model = M.from_config(cfg)\n",
        "from transformers import AutoConfig, AutoModelForMaskedLM\n"
        "model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained('bert-base-uncased'))\n",
        "import torch, transformers\ncfg = transformers.BertConfig.from_pretrained('b')\n"
        "model = transformers.BertForSequenceClassification(cfg)\nmodel.load_state_dict(torch.load('w.pt'))\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name transformers (whose import every finding needs) build the hub analysis."""
        return "transformers" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        objects = ctx.analysis.hubs.objects
        # A function that also loads a model with from_pretrained chooses between the two (`if checkpoint:`).
        loading = {id(o.step.owner) for o in objects if o.kind is HubKind.HF_MODEL and o.how == "from_pretrained"}
        if any(isinstance(s.node.func, cst.Attribute) and s.node.func.attr.value == "load_state_dict"
               for s in ctx.analysis.facts.calls):
            return
        for model in objects:
            config = model.config
            if (model.kind is not HubKind.HF_MODEL or model.how not in ("from_config", "constructor")
                    or model.classification_task is None or config is None or config.kind is not HubKind.HF_CONFIG
                    or id(model.step.owner) in loading):
                continue
            built = (f"`{model.library_class}.from_config(...)`" if model.how == "from_config"
                     else f"`{model.library_class}(config)`")
            yield ctx.report(
                self, model.call,
                f"{built} initialises every weight at random: the configuration from "
                f"`{config.library_class}.from_pretrained` on line {ctx.line(config.call)} holds the architecture, "
                "not the pretrained weights, so training starts from scratch; build the model with "
                f"`{model.library_class}.from_pretrained(checkpoint, ...)`",
            )
