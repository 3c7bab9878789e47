from __future__ import annotations

from collections.abc import Iterator

from featlint.analysis.class_counts import declared_classes
from featlint.analysis.hub_labels import Labels, model_labels
from featlint.analysis.hubs import HubKind, HubObject
from featlint.context import FileContext
from featlint.diagnostics import Diagnostic, Severity
from featlint.rules.base import Rule
from featlint.rules.fl306_head_classes_mismatch import CROSS_ENTROPY, losses
from featlint.startup.deferred import cst

# Text that shows a one-output model is meant to output a score: a regression task, a reward model, a
# binary task trained with its own sigmoid loss. `num_labels=1` is then right.
_ONE_SCORE = ("regression", "MSELoss", "mse_loss", "L1Loss", "l1_loss", "pearson", "spearman", "stsb", "sts-b",
              "reward", "Reward", "logsigmoid", "chosen", "BCEWithLogits", "binary_cross_entropy", "sigmoid")


class NumLabelsMismatch(Rule):
    """
    ## What it does
    Compares the number of labels a Hugging Face `*ForSequenceClassification`, `*ForTokenClassification` or
    `*ForImageClassification` model is built with (`num_labels=N`, an `id2label`/`label2id` map, the same
    arguments on its configuration, or the default of a configuration class the file builds itself) with
    the number of classes the script declares (the same declarations FL306 reads: a `NUM_CLASSES` or
    `NUM_LABELS` constant, a list or map of class names such as `LABELS` or `id2label`, a `num_classes=`
    argument, a torchvision data set). It reports a model with fewer labels than that, unless another
    classifier of the file has exactly that many, or a number featlint cannot tell (the declaration may be for
    that one).

    It also reports `num_labels=1` in a file whose only models are such one-label classifiers and that
    takes an `argmax` over the predictions or uses a cross-entropy loss, with no sign of a regression, a
    reward model or a sigmoid loss.

    It stays silent when `problem_type` is set anywhere in the file, when the labels are changed after the
    model is built (`model.config.num_labels = ...`), and when the number of labels comes from a checkpoint's
    own configuration (`from_pretrained(ckpt)` alone), which the file does not show.

    ## Why is this bad?
    With fewer labels than classes the classification loss fails at the first batch holding a larger
    label: `IndexError: Target 3 is out of bounds` (on CUDA, a device-side assert that names nothing).
    With `num_labels=1` transformers treats the task as regression: the model's loss is the mean-squared
    error between one score and the integer class, no error is raised, and an `argmax` over one output is
    always 0, so the accuracy measured is the share of class 0.

    ## Example
    ```python
    from transformers import AutoModelForSequenceClassification

    LABELS = ["negative", "neutral", "positive"]
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=2)
    ```

    ## Use instead
    ```python
    from transformers import AutoModelForSequenceClassification

    LABELS = ["negative", "neutral", "positive"]
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=len(LABELS))
    ```
    """

    code = "FL907"
    name = "num-labels-mismatch"
    severity = Severity.ERROR
    summary = "A Hugging Face classifier has fewer labels than the script's classes, or one label (regression)"
    requires_tokens = ("num_labels", "id2label", "label2id", "Config(")
    fires = (
        "import transformers\nLABELS = ['neg', 'neu', 'pos']\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('bert-base-uncased', num_labels=2)\n",
        "import transformers\nNUM_CLASSES = 10\n"
        "cfg = transformers.AutoConfig.from_pretrained('google/vit-base-patch16-224-in21k', num_labels=5)\n"
        "m = transformers.AutoModelForImageClassification.from_config(cfg)\n",
        "import transformers\nNUM_CLASSES = 4\n"
        "m = transformers.BertForSequenceClassification(transformers.BertConfig(hidden_size=128))\n",
        "import numpy as np, transformers\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('roberta-base', num_labels=1)\n"
        "def compute_metrics(p):\n    return {'accuracy': (np.argmax(p.predictions, axis=-1) == p.label_ids).mean()}\n",
    )
    silent = (
        "import transformers\nLABELS = ['neg', 'neu', 'pos']\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('bert-base-uncased', "
        "num_labels=len(LABELS))\n",
        "import transformers\nLABELS = ['neg', 'neu', 'pos']\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('bert-base-uncased')\n",
        "import transformers\nid2label = {0: 'neg', 1: 'neu', 2: 'pos'}\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('b', num_labels=2, id2label=id2label)\n",
        "import transformers\nNUM_CLASSES = 5\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('b', num_labels=2, "
        "problem_type='multi_label_classification')\n",
        "import transformers\nNUM_CLASSES = 5\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('b', num_labels=2)\n"
        "m.config.num_labels = NUM_CLASSES\n",
        "import numpy as np, transformers, scipy.stats\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('roberta-base', num_labels=1)\n"
        "def compute_metrics(p):\n"
        "    return {'pearson': scipy.stats.pearsonr(np.squeeze(p.predictions), p.label_ids)[0]}\n",
        "import transformers, trl\n"
        "m = transformers.AutoModelForSequenceClassification.from_pretrained('gpt2', num_labels=1)\n"
        "trainer = trl.RewardTrainer(model=m, train_dataset=pairs)\n",
        "import transformers\nLABELS = ['neg', 'neu', 'pos']\nAuto = transformers.AutoModelForSequenceClassification\n"
        "sentiment = Auto.from_pretrained('b', num_labels=len(LABELS))\nspam = Auto.from_pretrained('b', num_labels=2)\n",
        "import transformers\nLABELS = ['neg', 'neu', 'pos']\nAuto = transformers.AutoModelForSequenceClassification\n"
        "sentiment = Auto.from_pretrained(args.sentiment_model)\nspam = Auto.from_pretrained('b', num_labels=2)\n",
    )

    @classmethod
    def may_fire(cls, source: str) -> bool:
        """Only files that name transformers (whose import every finding needs) build the hub analysis."""
        return "transformers" in source and super().may_fire(source)

    def check(self, ctx: FileContext) -> Iterator[Diagnostic]:
        if "problem_type" in ctx.source:
            return
        models = [o for o in ctx.analysis.hubs.objects if o.kind is HubKind.HF_MODEL and o.classification_task]
        labelled = [(model, model_labels(ctx.analysis, ctx.source, model)) for model in models]
        known = [(model, labels) for model, labels in labelled if labels is not None]
        if not known:
            return
        if all(labels is not None and labels.count == 1 for _, labels in labelled):
            yield from self._one_label(ctx, [model for model, _ in labelled], known)
            return
        declared = declared_classes(ctx.analysis, ctx.source)
        counts = [labels.count if labels is not None else None for _, labels in labelled]
        if declared is None or None in counts or declared.count in counts:
            return  # unknown, or one of the file's classifiers is (or may be) the one for these classes
        for model, labels in known:
            if 2 <= labels.count < declared.count:
                hint = declared.name or str(declared.count)
                yield ctx.report(
                    self, labels.node,
                    f"the `{model.library_class}` of line {ctx.line(model.call)} gets {labels.count} labels "
                    f"({labels.said}) but the script declares {declared.count} classes ({declared.label}, "
                    f"{ctx.where(declared.node)}): the loss raises `IndexError: Target {labels.count} is out of "
                    f"bounds` (a device-side assert on CUDA) at the first label >= {labels.count}; build it with "
                    f"`num_labels={hint}`",
                )

    def _one_label(self, ctx: FileContext, models: list[HubObject], known: list[tuple[HubObject, Labels]]
                   ) -> Iterator[Diagnostic]:
        """`num_labels=1` on every classifier of the file, with a classification loss or an argmax metric."""
        hubs = ctx.analysis.hubs
        others = [o for o in hubs.objects if o.kind in (HubKind.HF_MODEL, HubKind.TIMM_MODEL) and o not in models]
        if others or any(word in ctx.source for word in _ONE_SCORE):
            return
        used = losses(ctx.analysis)
        if used and set(used) <= CROSS_ENTROPY:
            evidence = f"cross-entropy over its one logit ({ctx.where(next(iter(used.values())))}) is always 0"
        else:
            argmax = next((s.node for s in ctx.analysis.facts.calls if _is_argmax(s.node)), None)
            if argmax is None:
                return
            evidence = f"the `argmax` over its one output ({ctx.where(argmax)}) is always 0"
        for model, labels in known:
            yield ctx.report(
                self, labels.node,
                f"`num_labels=1` makes the `{model.library_class}` of line {ctx.line(model.call)} a regression "
                f"model: its loss is the mean-squared error between one score and the class number, no error is "
                f"raised, and {evidence}; use `num_labels=2` (or the number of classes) to classify, or pass "
                f"`problem_type=\"regression\"` if a score is what you want",
            )


def _is_argmax(call: cst.Call) -> bool:
    func = call.func
    return (isinstance(func, cst.Attribute) and func.attr.value == "argmax") or (
        isinstance(func, cst.Name) and func.value == "argmax")
