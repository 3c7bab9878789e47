from __future__ import annotations

import re
from collections.abc import Iterator

from featlint.analysis import hub_knowledge as hk
from featlint.analysis.hub_freezes import name_filters
from featlint.analysis.hubs import HubKind, HubObject, Hubs
from featlint.analysis.scopes import Scope
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst


class FreezeByMissingHeadName(Rule):
    """
    ## What it does
    Finds freezing code that relies on module names a Hugging Face classification class does not have,
    when the class is named in the file (`RobertaForSequenceClassification.from_pretrained(...)`):

    - a loop over `named_parameters()` that freezes every parameter whose name lacks a word
      (`if "classifier" not in name: param.requires_grad = False`) when no parameter of the model has that
      word in its name;
    - a backbone attribute of another architecture (`model.bert` on a RoBERTa model).

    ## Why is this bad?
    Head and backbone names differ by architecture: GPT-2, Llama and Mistral classifiers call their head
    `score`, not `classifier`; RoBERTa's backbone is `roberta`, not `bert`. A name filter that matches no
    parameter freezes everything, the new head included, so nothing trains and no error is raised; a wrong
    backbone attribute raises `AttributeError`.

    ## Example
    ```python
    from transformers import GPT2ForSequenceClassification

    model = GPT2ForSequenceClassification.from_pretrained("gpt2", num_labels=3)
    for name, param in model.named_parameters():
        if "classifier" not in name:
            param.requires_grad = False
    ```

    ## Use instead
    ```python
    from transformers import GPT2ForSequenceClassification

    model = GPT2ForSequenceClassification.from_pretrained("gpt2", num_labels=3)
    for name, param in model.named_parameters():
        if "score" not in name:
            param.requires_grad = False
    ```
    """

    code = "FL908"
    name = "freeze-by-missing-head-name"
    severity = Severity.ERROR
    summary = "Freezing by a head or backbone name the Hugging Face architecture does not have"
    requires_tokens = ("For",)
    fires = (
        "import transformers\nm = transformers.LlamaForSequenceClassification.from_pretrained('l')\n"
        "for n, p in m.named_parameters():\n    p.requires_grad = 'classifier' in n\n",
        "import transformers\nm = transformers.RobertaForSequenceClassification.from_pretrained('r')\n"
        "for p in m.bert.parameters():\n    p.requires_grad = False\n",
    )
    silent = (
        "import transformers\nm = transformers.LlamaForSequenceClassification.from_pretrained('l')\n"
        "for n, p in m.named_parameters():\n    p.requires_grad = 'score' in n\n",
        "import transformers\nm = transformers.AutoModelForSequenceClassification.from_pretrained('l')\n"
        "for n, p in m.named_parameters():\n    if 'classifier' not in n:\n        p.requires_grad = False\n",
        "import transformers\nm = transformers.RobertaForSequenceClassification.from_pretrained('r')\n"
        "for p in m.roberta.parameters():\n    p.requires_grad = False\n",
        "import transformers\nm = transformers.BertForSequenceClassification.from_pretrained('b')\n"
        "for n, p in m.named_parameters():\n    if 'layer.11' not in n:\n        p.requires_grad = False\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name transformers (whose import every finding needs) build the hub analysis."""
        return "transformers" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        hubs = ctx.analysis.hubs
        if not any(o.kind is HubKind.HF_MODEL for o in hubs.objects):
            return
        for found in name_filters(hubs):
            classifier = _classifier(found.model)
            # Names with digits depend on the depth (the knowledge is built with one layer).
            if classifier is None or re.search(r"\d", found.spared) or not found.spared:
                continue
            names = hk.hf_parameter_names(classifier.name)
            if not names or any(found.spared in n for n in names):
                continue
            yield ctx.report(
                self, found.statement,
                f"no parameter of {classifier.name} has \"{found.spared}\" in its name (its head is "
                f"`{classifier.head}`): this loop freezes every parameter, the head included, and nothing trains; "
                f"test for \"{classifier.head}\" instead",
            )
        yield from self._wrong_backbones(ctx, hubs)

    def _wrong_backbones(self, ctx: FileContext, hubs: Hubs) -> Iterator[Diagnostic]:
        facts = ctx.analysis.facts
        places: list[tuple[cst.BaseExpression, Scope, cst.CSTNode]] = [
            (s.node.func.value, s.scope, s.node) for s in facts.calls if isinstance(s.node.func, cst.Attribute)
        ]
        places += [(store.target.value, store.scope, store.statement) for store in facts.attribute_stores]
        reported: set[int] = set()
        for expr, scope, node in places:
            if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
                continue
            attribute = expr.attr.value
            step = hubs.step(node)
            if attribute not in hk.hf_backbone_names() or step is None or id(expr) in reported:
                continue
            classifier = _classifier(hubs.object_of(expr.value, scope, step))
            if classifier is None or attribute in classifier.children or classifier.backbone is None:
                continue
            reported.add(id(expr))
            yield ctx.report(
                self, expr,
                f"{classifier.name} has no `{attribute}`: its backbone is `{classifier.backbone}`, so "
                f"`{ctx.code(expr)}` raises AttributeError; use `{expr.value.value}.{classifier.backbone}` (or "
                f"`{expr.value.value}.base_model`, which every architecture has)",
            )


def _classifier(model: HubObject | None) -> hk.HfClassifier | None:
    if model is None or model.kind is not HubKind.HF_MODEL:
        return None
    return hk.hf_classifier(model.library_class)
