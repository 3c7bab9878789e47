from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis import hub_knowledge as hk
from featlint.analysis.calls import keyword, string_literal
from featlint.analysis.hubs import HubKind, HubObject
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.startup.deferred import cst

_TASK_TYPE = {"SequenceClassification": "SEQ_CLS", "TokenClassification": "TOKEN_CLS"}


class AdapterHeadNotTrainable(Rule):
    """
    ## What it does
    Finds `get_peft_model` applied to a Hugging Face `*ForSequenceClassification`,
    `*ForTokenClassification` or `*ForImageClassification` model with a PEFT configuration (`LoraConfig`...)
    written in the file that has neither a classification `task_type` (`SEQ_CLS`, `TOKEN_CLS`) nor the
    head in `modules_to_save`, or whose `modules_to_save` names no module of the head.

    ## Why is this bad?
    `from_pretrained` gives these models a new, randomly initialised classification head. `get_peft_model`
    freezes everything but the adapters, and only a classification `task_type` or `modules_to_save` keeps
    the head trainable and saves it with the adapter. Without them the head stays random during training
    (the adapters learn to feed a fixed random projection), and reloading the saved adapter draws yet
    another random head. No error is raised.

    ## Example
    ```python
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
    model = get_peft_model(model, LoraConfig(r=8, target_modules=["query", "value"]))
    ```

    ## Use instead
    ```python
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=3)
    config = LoraConfig(r=8, target_modules=["query", "value"], task_type=TaskType.SEQ_CLS)
    model = get_peft_model(model, config)
    ```
    """

    code = "FL901"
    name = "adapter-head-not-trainable"
    severity = Severity.ERROR
    summary = "`get_peft_model` on a classification model leaves its new head frozen and unsaved"
    requires_tokens = ("get_peft_model",)
    fires = (
        "import peft, transformers\nm = transformers.ViTForImageClassification.from_pretrained('v', num_labels=5)\n"
        "cfg = peft.LoraConfig(r=8, target_modules=['q_proj', 'v_proj'])\nm = peft.get_peft_model(m, cfg)\n",
        "import peft, transformers\nm = transformers.LlamaForSequenceClassification.from_pretrained('l')\n"
        "cfg = peft.LoraConfig(target_modules=['q_proj'], modules_to_save=['classifier'])\n"
        "m = peft.get_peft_model(m, cfg)\n",
    )
    silent = (
        "import peft, transformers\nm = transformers.AutoModelForSequenceClassification.from_pretrained('b')\n"
        "cfg = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS)\nm = peft.get_peft_model(m, cfg)\n",
        "import peft, transformers\nm = transformers.ViTForImageClassification.from_pretrained('v', num_labels=5)\n"
        "cfg = peft.LoraConfig(target_modules=['q_proj', 'v_proj'], modules_to_save=['classifier'])\n"
        "m = peft.get_peft_model(m, cfg)\n",
        "import peft, transformers\nm = transformers.AutoModelForCausalLM.from_pretrained('g')\n"
        "m = peft.get_peft_model(m, peft.LoraConfig(r=8))\n",
        "import peft, transformers\nm = transformers.AutoModelForSequenceClassification.from_pretrained('b')\n"
        "m = peft.get_peft_model(m, peft.LoraConfig(**settings))\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name peft (whose import every finding needs) build the hub analysis."""
        return "peft" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for wrap in ctx.analysis.hubs.objects:
            if wrap.how != "get_peft_model" or wrap.wrapped is None or wrap.config is None:
                continue
            model, config = wrap.wrapped, wrap.config
            task = model.classification_task
            if task is None or config.kind is not HubKind.PEFT_CONFIG or any(a.star for a in config.call.args):
                continue
            message = self._problem(ctx, model, config, task)
            if message is not None:
                yield ctx.report(self, wrap.call, message)

    def _problem(self, ctx: FileContext, model: HubObject, config: HubObject, task: str) -> str | None:
        classifier = hk.hf_classifier(model.library_class)
        head = classifier.head if classifier is not None else None
        def where() -> str:  # positions only for a finding: they cost as much as the parse
            return f"the {model.library_class} of line {ctx.line(model.call)}"

        saved = keyword(config.call, "modules_to_save")
        if saved is not None:
            names = _string_list(saved.value)
            if names is None or head is None or any(_saves_head(model.library_class, head, n) for n in names):
                return None
            return (f"`modules_to_save={names}` names no module of the head `{head}` of {where()}: the head stays "
                    f"frozen (a newly initialised one never trains) and is not saved with the adapter; put "
                    f"\"{head}\" in `modules_to_save`")
        task_type = keyword(config.call, "task_type")
        if task_type is not None:
            value = _task_type(task_type.value)
            if value is None or value in hk.peft_task_types_training_head():
                return None
        if task in _TASK_TYPE:
            fix = f"pass `task_type=TaskType.{_TASK_TYPE[task]}`"
        else:
            fix = f"pass `modules_to_save=[\"{head}\"]`" if head is not None else "name the head in `modules_to_save`"
        head_text = f"classification head `{head}`" if head is not None else "classification head"
        return (f"`get_peft_model` freezes the {head_text} of {where()} and leaves it out of the saved adapter: "
                f"`{config.library_class}` has no classification `task_type` and no `modules_to_save`, so a newly "
                f"initialised head never trains and a reload draws another; {fix}")


def _saves_head(model_class: str, head: str, name: str) -> bool:
    """Whether PEFT's `modules_to_save` entry `name` (matched against the end of module paths) reaches a
    module of the head, or the head itself."""
    modules = {head} | {
        parameter.rsplit(".", 1)[0] for parameter in hk.hf_parameter_names(model_class)
        if parameter.startswith(f"{head}.")
    }
    return any(module == name or module.endswith(f".{name}") for module in modules)


def _string_list(expr: cst.BaseExpression) -> list[str] | None:
    if not isinstance(expr, (cst.List, cst.Tuple)):
        return None
    names = [string_literal(e.value) if isinstance(e, cst.Element) else None for e in expr.elements]
    return None if any(n is None for n in names) else names  # type: ignore[return-value]


def _task_type(expr: cst.BaseExpression) -> str | None:
    """`"SEQ_CLS"` or `TaskType.SEQ_CLS` as the member's value; None when computed."""
    literal = string_literal(expr)
    if literal is not None:
        return literal
    if isinstance(expr, cst.Attribute):
        owner = expr.value
        owner_name = owner.value if isinstance(owner, cst.Name) else owner.attr.value if isinstance(owner, cst.Attribute) else ""
        if owner_name == "TaskType":
            return expr.attr.value
    return None
