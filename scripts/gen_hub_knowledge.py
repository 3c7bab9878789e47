"""Regenerate featlint/data/{timm,transformers,peft}.json from the installed timm, transformers and peft.

featlint lints without importing any of these libraries, so what it knows about them is read here, once,
from the real libraries, and shipped as data (the torchvision knowledge works the same way). Nothing is
downloaded: every timm architecture with pretrained weights is built with `pretrained=False` on the meta
device (about 3 CPU-minutes for 1,151; its progress goes to stderr) and every pretrained tag's
configuration is read; every transformers classification class is built from its model type's default
configuration cut to one layer, also on the meta device; the PEFT facts come from wrapping two tiny models.
Run it after changing the versions in the `dev` extra and commit the result; `--check` tells CI whether the
shipped files are stale. `--timm-sample N` rebuilds only every Nth timm architecture and prints those whose
shipped entry differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "featlint" / "data"
TIMM_OUT = DATA / "timm.json"
TRANSFORMERS_OUT = DATA / "transformers.json"
PEFT_OUT = DATA / "peft.json"

# The classification tasks whose model classes carry a new head, and the auto-mapping naming them.
HF_TASKS: Mapping[str, str] = {
    "ForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "ForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "ForImageClassification": "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
}
# An unusual label count, so that the layer producing the logits is the one whose output has this size.
PROBE_LABELS = 7
# Configuration attributes that set the depth: cut to one so that building is quick and names stay few.
DEPTH_ATTRIBUTES = ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers", "decoder_layers")
# Pretrained-config fields kept per timm tag (the rest is download and licence metadata).
TIMM_CFG_FIELDS = ("input_size", "fixed_input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std",
                   "num_classes", "classifier", "first_conv")


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)


# --- timm ----------------------------------------------------------------------------------------------
def _timm_module_sizes(module: Any) -> dict[str, Any]:
    """The type of a head and the size it takes (a Linear's in_features, a Conv2d's in_channels)."""
    from torch import nn

    found: dict[str, Any] = {"type": type(module).__name__}
    if isinstance(module, nn.Linear):
        found["in"], found["out"] = module.in_features, module.out_features
    elif isinstance(module, nn.Conv2d):
        found["in"], found["out"] = module.in_channels, module.out_channels
    return found


def timm_architecture(name: str) -> dict[str, Any]:
    """What `timm.create_model(name)` builds: head, sizes, BatchNorm, and what `reset_classifier` replaces."""
    import timm
    import torch
    from torch import nn

    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False)
        entry: dict[str, Any] = {
            "num_features": int(model.num_features),
            "batchnorm": any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()),
            "children": [child for child, _ in model.named_children()],
            # None for an encoder without a classifier (a language model's vision tower): it has neither
            # get_classifier nor reset_classifier (whose error is recorded below).
            "head_modules": None,
        }
        if hasattr(model, "get_classifier"):
            classifier = model.get_classifier()
            heads = classifier if isinstance(classifier, (list, tuple)) else (classifier,)
            entry["head_modules"] = [_timm_module_sizes(m) for m in heads]
        before = {path: id(m) for path, m in model.named_modules()}
        try:
            model.reset_classifier(PROBE_LABELS)
        except Exception as error:  # noqa: BLE001 - recorded, not hidden: some models take other arguments
            entry["reset"] = f"error: {type(error).__name__}"
            return entry
        after = dict(model.named_modules())
        changed = sorted(p for p, m in after.items() if p and before.get(p) != id(m))
        # Only the outermost replaced modules: a new Linear's own children are not separate replacements.
        entry["reset"] = [p for p in changed if not any(p.startswith(q + ".") for q in changed if q != p)]
    return entry


def _shape_of(built: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split what one architecture builds into what many share (children, BatchNorm, the head's module
    types, what reset_classifier replaces: the "shape", stored once) and its own sizes."""
    heads = built["head_modules"]
    shape = {"batchnorm": built["batchnorm"], "children": built["children"], "reset": built["reset"],
             "head_types": None if heads is None else [m["type"] for m in heads]}
    sizes = {"num_features": built["num_features"]}
    if heads and "in" in heads[0]:
        sizes["head_in"] = heads[0]["in"]
    return shape, sizes


def timm_tags() -> dict[str, list[str]]:
    """Each architecture with pretrained weights and its tags, the default (what a name without a tag
    loads) first."""
    import timm
    from timm.models import get_pretrained_cfg

    tags: dict[str, list[str]] = {}
    for full in timm.list_models(pretrained=True):
        arch, _, tag = full.partition(".")
        tags.setdefault(arch, []).append(tag)
    for arch, found in tags.items():
        default = get_pretrained_cfg(arch).tag
        found.sort(key=lambda tag: tag != default)
    return tags


def timm_families() -> dict[str, str]:
    """Each pretrained architecture's timm model module (its family: resnet, vision_transformer...)."""
    import timm

    return {name.partition(".")[0]: module for module in timm.list_modules()
            for name in timm.list_models(module=module, pretrained=True)}


def timm_knowledge(sample_every: int = 1, progress: bool = False) -> dict[str, Any]:
    """Every pretrained tag's configuration, and every pretrained architecture built.

    Each architecture is built with `pretrained=False` on the meta device (nothing is allocated or
    downloaded); all 1,151 take about 3 CPU-minutes (10 minutes of wall time niced on two shared cores), so
    `sample_every` builds every Nth only (for `--timm-sample` and the tests). What an architecture builds
    is stored as an index into `shapes` (the distinct children/BatchNorm/head types/reset results, shared
    by the variants of a family) plus its own `num_features` and head input size; one that timm cannot
    build keeps its tags and records the error."""
    import time

    import timm
    from timm.models import get_pretrained_cfg

    cfgs: list[dict[str, Any]] = []
    cfg_index: dict[str, int] = {}
    shapes: list[dict[str, Any]] = []
    shape_index: dict[str, int] = {}
    architectures: dict[str, Any] = {}
    tags = timm_tags()
    families = timm_families()
    names = sorted(tags)[::sample_every]
    started = time.monotonic()
    for position, arch in enumerate(names):
        # A list of [tag, cfg index], the default tag first (the file's keys are sorted).
        entry: dict[str, Any] = {"family": families[arch], "tags": []}
        for tag in tags[arch]:
            cfg = get_pretrained_cfg(f"{arch}.{tag}").to_dict()
            kept = {key: _jsonable(cfg.get(key)) for key in TIMM_CFG_FIELDS}
            entry["tags"].append([tag, _intern(kept, cfgs, cfg_index)])
        try:
            shape, sizes = _shape_of(timm_architecture(arch))
        except Exception as error:  # noqa: BLE001 - an architecture timm cannot build is recorded as such
            entry["error"] = type(error).__name__
        else:
            entry.update(shape=_intern(shape, shapes, shape_index), **sizes)
        architectures[arch] = entry
        if progress and (position % 25 == 24 or position == len(names) - 1):
            print(f"timm: {position + 1}/{len(names)} built ({time.monotonic() - started:.0f} s, "
                  f"{len(shapes)} shapes, {sum('error' in e for e in architectures.values())} failed)",
                  file=sys.stderr, flush=True)
    return {"timm_version": timm.__version__, "cfgs": cfgs, "shapes": shapes, "architectures": architectures}


def _intern(value: dict[str, Any], table: list[dict[str, Any]], index: dict[str, int]) -> int:
    """The position of `value` in `table`, appended when new: equal entries are stored once."""
    key = json.dumps(value, sort_keys=True)
    if key not in index:
        index[key] = len(table)
        table.append(value)
    return index[key]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


# --- transformers --------------------------------------------------------------------------------------
def _model_classes() -> list[str]:
    """Every model class transformers exports (the names `from_pretrained` returns a model for)."""
    import transformers
    from transformers import PreTrainedModel

    found = []
    for name in dir(transformers):
        if not name[:1].isupper() or ("Model" not in name and "For" not in name):
            continue
        try:
            obj = getattr(transformers, name)
        except Exception:  # noqa: BLE001 - a class whose optional backend is missing is not a model here
            continue
        if isinstance(obj, type) and issubclass(obj, PreTrainedModel):
            found.append(name)
    return sorted(found)


def _tiny_config(model_type: str) -> Any:
    from transformers import AutoConfig

    config = AutoConfig.for_model(model_type)
    for attr in DEPTH_ATTRIBUTES:
        if isinstance(getattr(config, attr, None), int):
            setattr(config, attr, 1)
    config.num_labels = PROBE_LABELS
    return config


def hf_class(name: str, task: str) -> tuple[dict[str, Any], list[str]]:
    """The head and backbone of one classification class, and its parameter names (built from a one-layer
    config)."""
    import torch
    import transformers
    from transformers import AutoConfig
    from torch import nn

    cls = getattr(transformers, name)
    model_type = cls.config_class.model_type
    default_labels = AutoConfig.for_model(model_type).num_labels
    with torch.device("meta"):
        model = cls(_tiny_config(model_type))
    heads = [path for path, m in model.named_modules()
             if isinstance(m, nn.Linear) and m.out_features == PROBE_LABELS]
    children = [child for child, _ in model.named_children()]
    prefix = model.base_model_prefix if model.base_model_prefix in children else None
    entry: dict[str, Any] = {"task": task, "model_type": model_type, "backbone": prefix,
                             "num_labels": default_labels, "children": children}
    if heads:
        head_path = heads[-1]
        attribute = head_path.split(".")[0]
        linear = model.get_submodule(head_path)
        entry.update(head=attribute, head_path=head_path, head_type=type(model.get_submodule(attribute)).__name__,
                     head_in=linear.in_features)
        config = model.config
        entry["head_in_config"] = next(
            (attr for attr in ("hidden_size", "d_model", "n_embd", "dim", "embed_dim")
             if getattr(config, attr, None) == linear.in_features), None)
    return entry, [n for n, _ in model.named_parameters()]


def name_tree(names: Iterable[str], trees: list[Any], index: dict[str, int]) -> int:
    """Store dotted parameter names as a tree of module names whose equal subtrees are shared (BERT's
    attention block is the same in thirty model types); returns the root's index in `trees`. A node is
    [own parameter names, [[child name, node index], ...]], as in the torchvision knowledge."""
    nested: dict[str, Any] = {}
    for name in names:
        *path, leaf = name.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("", []).append(leaf)

    def store(node: dict[str, Any]) -> int:
        entry = [node.get("", []), [[child, store(sub)] for child, sub in node.items() if child]]
        key = json.dumps(entry)
        if key not in index:
            index[key] = len(trees)
            trees.append(entry)
        return index[key]

    return store(nested)


def transformers_knowledge() -> dict[str, Any]:
    import transformers
    from transformers import PreTrainedModel
    from transformers.models.auto import modeling_auto

    classes: dict[str, Any] = {}
    trees: list[Any] = []
    tree_index: dict[str, int] = {}
    for suffix, mapping in HF_TASKS.items():
        names = set(getattr(modeling_auto, mapping).values())
        names |= {n for n in dir(transformers) if n.endswith(suffix) and not n.startswith(("TF", "Flax"))}
        for name in sorted(n for n in names if isinstance(n, str)):
            cls = getattr(transformers, name, None)
            if not isinstance(cls, type) or not issubclass(cls, PreTrainedModel) or name.startswith("Auto"):
                continue
            try:
                entry, parameter_names = hf_class(name, suffix[3:])
            except Exception as error:  # noqa: BLE001 - e.g. a class that needs an optional backend
                classes[name] = {"task": suffix[3:], "error": type(error).__name__}
                continue
            entry["parameters"] = name_tree(parameter_names, trees, tree_index)
            classes[name] = entry
    return {"transformers_version": transformers.__version__, "model_classes": _model_classes(),
            "classification": classes, "parameter_trees": trees}


# --- peft ----------------------------------------------------------------------------------------------
def peft_knowledge() -> dict[str, Any]:
    """Which PEFT configs take `modules_to_save`, and which task types make a classifier head trainable,
    observed by wrapping a one-layer BERT sequence classifier with each task type."""
    import peft
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    configs = sorted(
        name for name in dir(peft)
        if name.endswith("Config") and isinstance(getattr(peft, name), type)
        and dataclasses.is_dataclass(getattr(peft, name))
        and "modules_to_save" in {f.name for f in dataclasses.fields(getattr(peft, name))}
    )
    trains_head = []
    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    for task in [None, *peft.TaskType]:
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
        lora = peft.LoraConfig(r=2, target_modules=["query", "value"],
                               **({"task_type": task} if task is not None else {}))
        try:
            wrapped = peft.get_peft_model(model, lora)
        except AttributeError:  # a generation task type needs a generative model: not a classifier's
            continue
        trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
        if any("classifier" in n and "lora" not in n for n in trainable):
            trains_head.append(None if task is None else task.value)
    return {"peft_version": peft.__version__, "configs_with_modules_to_save": configs,
            "task_types_training_head": trains_head, "task_types": [t.value for t in peft.TaskType],
            "config_classes": sorted(n for n in dir(peft) if n.endswith("Config")
                                     and isinstance(getattr(peft, n), type))}


# --- files ---------------------------------------------------------------------------------------------
def render(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def timm_resolved(data: Mapping[str, Any], arch: str) -> dict[str, Any] | None:
    """One architecture's entry with its tag configurations and shape written out (indices differ between a
    full file and a sample)."""
    entry = data["architectures"].get(arch)
    if entry is None:
        return None
    resolved = {key: value for key, value in entry.items() if key not in ("tags", "shape")}
    resolved["tags"] = [[tag, data["cfgs"][index]] for tag, index in entry["tags"]]
    if "shape" in entry:
        resolved["shape"] = data["shapes"][entry["shape"]]
    return resolved


def timm_sample_differences(shipped: Mapping[str, Any], every: int) -> list[str]:
    """Rebuild every Nth timm architecture; the ones whose shipped entry differs (and a version change)."""
    fresh = timm_knowledge(every)
    stale = [f"timm_version {shipped['timm_version']} != {fresh['timm_version']}"] * (
        shipped["timm_version"] != fresh["timm_version"])
    return stale + [arch for arch in fresh["architectures"]
                    if timm_resolved(shipped, arch) != timm_resolved(fresh, arch)]


def _differences(shipped: Mapping[str, Any], fresh: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    return [key for key in keys if shipped.get(key) != fresh.get(key)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a shipped file is not up to date")
    parser.add_argument("--only", choices=("timm", "transformers", "peft"), action="append",
                        help="regenerate only this library's file (repeatable)")
    parser.add_argument("--timm-sample", type=int, metavar="N",
                        help="build every Nth timm architecture and report those that differ from the shipped "
                             "file (exit 1 if any); writes nothing")
    args = parser.parse_args(argv)
    _quiet()
    if args.timm_sample:
        stale = timm_sample_differences(json.loads(TIMM_OUT.read_text(encoding="utf-8")), args.timm_sample)
        print(f"every {args.timm_sample}th timm architecture rebuilt; differing: {stale or 'none'}")
        return 1 if stale else 0
    builders = {"timm": (TIMM_OUT, functools.partial(timm_knowledge, progress=True)),
                "transformers": (TRANSFORMERS_OUT, transformers_knowledge),
                "peft": (PEFT_OUT, peft_knowledge)}
    status = 0
    for library in args.only or builders:
        path, build = builders[library]
        text = render(build())
        if args.check:
            current = path.read_text(encoding="utf-8") if path.exists() else ""
            if current != text:
                old = json.loads(current) if current else {}
                new = json.loads(text)
                print(f"{path.name} is stale (differs in: {', '.join(_differences(old, new, new)) or 'format'}); "
                      f"run scripts/gen_hub_knowledge.py --only {library}", file=sys.stderr)
                status = 1
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path} ({len(text) / 1024:.1f} KiB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
