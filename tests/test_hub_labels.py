"""How many labels a Hugging Face classifier is built with (hub_labels) and how many classes a script
declares (class_counts): the two sides FL907 compares. Unknown must stay unknown (None)."""

from __future__ import annotations

import pytest

from featlint.analysis import FileAnalysis
from featlint.analysis.class_counts import declared_classes
from featlint.analysis.hub_labels import model_labels
from featlint.analysis.hubs import HubKind
from featlint.startup.deferred import cst

HEAD = "import transformers\nfrom transformers import AutoConfig, AutoModelForSequenceClassification as Auto\n"


def _labels(source: str) -> int | None:
    source = HEAD + source
    analysis = FileAnalysis(cst.parse_module(source))
    models = [o for o in analysis.hubs.objects if o.kind is HubKind.HF_MODEL]
    assert len(models) == 1
    found = model_labels(analysis, source, models[0])
    return None if found is None else found.count


@pytest.mark.parametrize(("source", "count"), [
    ("m = Auto.from_pretrained('b', num_labels=4)\n", 4),
    ("N = 6\nm = Auto.from_pretrained('b', num_labels=N)\n", 6),
    ("L = ['a', 'b', 'c']\nm = Auto.from_pretrained('b', num_labels=len(L))\n", 3),
    # id2label wins over num_labels in PretrainedConfig
    ("m = Auto.from_pretrained('b', num_labels=2, id2label={0: 'a', 1: 'b', 2: 'c'})\n", 3),
    ("c = AutoConfig.from_pretrained('b', num_labels=5)\nm = Auto.from_config(c)\n", 5),
    ("c = AutoConfig.from_pretrained('b', num_labels=5)\nm = Auto.from_pretrained('b', config=c)\n", 5),
    # the configuration class's default, from the transformers knowledge
    ("m = transformers.BertForSequenceClassification(transformers.BertConfig())\n", 2),
    ("m = transformers.BartForSequenceClassification(transformers.BartConfig())\n", 3),
    ("m = transformers.BertForSequenceClassification(transformers.BertConfig(num_labels=7))\n", 7),
])
def test_labels_the_file_states(source: str, count: int) -> None:
    assert _labels(source) == count


@pytest.mark.parametrize("source", [
    "m = Auto.from_pretrained('b')\n",  # the checkpoint's own configuration decides
    "c = AutoConfig.from_pretrained('b')\nm = Auto.from_config(c)\n",
    "m = Auto.from_pretrained('b', num_labels=args.n)\n",
    "m = Auto.from_pretrained('b', **kwargs)\n",
    "m = Auto.from_pretrained('b', id2label=mapping)\n",
    "m = Auto.from_pretrained('b', num_labels=2)\nm.config.num_labels = 5\n",
    "m = Auto.from_config(make_config())\n",
])
def test_labels_the_file_does_not_state(source: str) -> None:
    assert _labels(source) is None


@pytest.mark.parametrize(("source", "count"), [
    ("id2label = {0: 'neg', 1: 'neu', 2: 'pos'}\n", 3),
    ("LABELS = ['neg', 'pos']\nNUM_LABELS = len(LABELS)\n", 2),
    ("NUM_LABELS = 4\n", 4),
    ("id2label = {i: n for i, n in enumerate(names)}\n", None),  # computed: unknown, and so is the total
    ("labels = batch['labels']\nNUM_CLASSES = 3\n", 3),  # plain `labels` is data, not a declaration
    ("LABELS = ['a', 'b']\nNUM_CLASSES = 3\n", None),  # declarations that disagree
])
def test_declared_classes(source: str, count: int | None) -> None:
    analysis = FileAnalysis(cst.parse_module(source))
    declared = declared_classes(analysis, source)
    assert (declared.count if declared is not None else None) == count
