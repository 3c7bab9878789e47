"""Regenerate featlint/data/torchvision.json from the installed torchvision.

featlint must lint without torch, so what it knows about torchvision's model builders is read here, once,
from the real library, and shipped as data. Run this after changing the torchvision pinned by the
`runtime` extra in pyproject.toml and commit the result; `--check` lets CI notice a stale file.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
import warnings

import torch
import torchvision
import torchvision.models.detection
import torchvision.models.optical_flow
import torchvision.models.quantization
import torchvision.models.segmentation
import torchvision.models.video
from torch import nn
from torchvision.models import get_model_builder, get_model_weights, list_models, regnet
from torchvision.models._api import WeightsEnum
from torchvision.transforms._presets import ImageClassification

OUTPUT = Path(__file__).resolve().parents[1] / "featlint" / "data" / "torchvision.json"

TASKS: Mapping[str, ModuleType] = {
    "classification": torchvision.models,
    "detection": torchvision.models.detection,
    "segmentation": torchvision.models.segmentation,
    "video": torchvision.models.video,
    "optical_flow": torchvision.models.optical_flow,
    "quantization": torchvision.models.quantization,
}
# Keyword arguments that change which weights `pretrained=True` selects (torchvision's legacy defaults are
# lambdas over the call's kwargs); each is probed with True.
CONDITIONS = ("quantize",)

LegacyDefault = WeightsEnum | Callable[[dict[str, Any]], WeightsEnum | None] | None


def _drops(module: nn.Module) -> bool:
    """The module drops something at random in train mode only (dropout, stochastic depth, attention dropout),
    as built by default: with BatchNorm, what makes `train()` and `eval()` differ."""
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return module.p > 0
    if isinstance(module, torchvision.ops.StochasticDepth):
        return module.p > 0
    if isinstance(module, nn.MultiheadAttention):
        return module.dropout > 0
    return False


def public_module(obj: Any) -> str:
    """The shortest import path that exports obj: the one a fix should write, not where obj happens to live."""
    candidates = {module.__name__ for module in TASKS.values()} | {obj.__module__}
    for path in sorted(candidates, key=lambda path: (path.count("."), path)):
        if getattr(sys.modules[path], obj.__name__, None) is obj:
            return path
    raise SystemExit(f"{obj.__module__}.{obj.__name__} is not exported by any torchvision.models module")


def _is_legacy_entry(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and (value[1] is None or isinstance(value[1], WeightsEnum) or callable(value[1]))
    )


def legacy_mapping(builder: Callable[..., Any]) -> dict[str, tuple[str, LegacyDefault]]:
    """The `{weights_param: (legacy_param, default)}` given to `handle_legacy_interface`.

    torchvision keeps it nowhere but in the closure of the wrapper that decorator returns.
    """
    function: Any = builder
    while function is not None:
        for cell in function.__closure__ or ():
            value = cell.cell_contents
            if isinstance(value, dict) and value and all(_is_legacy_entry(entry) for entry in value.values()):
                return value
        function = getattr(function, "__wrapped__", None)
    raise SystemExit(f"{builder.__module__}.{builder.__name__} is not wrapped by handle_legacy_interface")


def declared_enum(registry_name: str, builder: Callable[..., Any], param: str) -> type[WeightsEnum]:
    """The enum a weights parameter is annotated with, for parameters whose `pretrained=True` gives no weights."""
    if param == "weights":
        return get_model_weights(registry_name)
    annotation = typing.get_type_hints(inspect.unwrap(builder))[param]
    enums = [arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, WeightsEnum)]
    if len(enums) != 1:
        raise SystemExit(f"cannot tell the weights enum of {builder.__name__}({param}=...) from {annotation}")
    return enums[0]


def accepts_num_classes(builder: Callable[..., Any]) -> bool:
    """Whether `num_classes=` reaches the model: declared by the builder, or forwarded through its **kwargs.

    Most builders pass **kwargs through a helper to the model class, so their own source rarely mentions
    num_classes; the returned class decides, through the first `__init__` up its MRO that does not itself
    just forward **kwargs (quantizable models wrap the float model's `__init__` that way).
    """
    if "num_classes" in inspect.signature(builder).parameters:
        return True
    model = typing.get_type_hints(inspect.unwrap(builder))["return"]
    for cls in model.__mro__:
        if "__init__" not in vars(cls):
            continue
        params = inspect.signature(cls.__init__).parameters
        if "num_classes" in params:
            return True
        if not any(param.kind is inspect.Parameter.VAR_KEYWORD for param in params.values()):
            return False
    return False


def _remember(enums: dict[str, type[WeightsEnum]], enum: type[WeightsEnum]) -> None:
    """Collect an enum for the "weights" table, which like featlint's fixes knows enums by class name only."""
    if enums.setdefault(enum.__name__, enum) is not enum:
        raise SystemExit(f"two weights enums are named {enum.__name__}")


def _resolve(default: LegacyDefault, kwargs: dict[str, Any]) -> WeightsEnum | None:
    return default(kwargs) if callable(default) else default


def _weights_params(
    registry_name: str, builder: Callable[..., Any], enums: dict[str, type[WeightsEnum]]
) -> dict[str, dict[str, Any]]:
    mapping = legacy_mapping(builder)
    params = [name for name in inspect.signature(builder).parameters if name.split("_")[0] == "weights"]
    if sorted(params) != sorted(mapping):
        raise SystemExit(f"{builder.__name__}: weights parameters {params} but legacy mapping {sorted(mapping)}")
    result: dict[str, dict[str, Any]] = {}
    for param in params:
        legacy_param, default = mapping[param]
        # torchvision calls a callable default with the call's kwargs, where the legacy name is always present.
        legacy = _resolve(default, {legacy_param: True})
        # Quantized builders take the float enum unless quantize=True, so the enum follows the legacy weights.
        enum = type(legacy) if legacy is not None else declared_enum(registry_name, builder, param)
        _remember(enums, enum)
        conditional: dict[str, dict[str, str] | None] = {}
        for condition in CONDITIONS:
            other = _resolve(default, {legacy_param: True, condition: True})
            if other == legacy:
                continue
            if other is None:
                conditional[condition] = None
            else:
                _remember(enums, type(other))
                conditional[condition] = {"enum": type(other).__name__, "member": other.name}
        result[param] = {
            "enum": enum.__name__,
            "enum_module": public_module(enum),
            "legacy_param": legacy_param,
            "legacy_value": legacy.name if legacy is not None else None,
            "legacy_value_if": conditional,
        }
    return result


def _member_entry(member: WeightsEnum) -> dict[str, Any]:
    categories = member.meta.get("categories")
    entry: dict[str, Any] = {"num_categories": len(categories) if categories else None}
    preset = member.transforms()
    if isinstance(preset, ImageClassification):
        # What `weights.transforms()` does at evaluation: the sizes and statistics the weights expect.
        entry["transforms"] = {
            "resize": preset.resize_size[0],
            "crop": preset.crop_size[0],
            "interpolation": preset.interpolation.value,
            "mean": [round(value, 6) for value in preset.mean],
            "std": [round(value, 6) for value in preset.std],
            "min_size": member.meta["min_size"][0],
        }
    return entry


def _weights_entry(enum: type[WeightsEnum]) -> dict[str, Any]:
    members = {
        name: _member_entry(member)
        for name, member in enum.__members__.items()
        if name == member.name  # DEFAULT is an alias, recorded as "default"
    }
    return {"module": public_module(enum), "members": members, "default": enum.DEFAULT.name}


# --- what each classification model's forward does -------------------------------------------------------
# Facts are observed, not remembered: every classification builder is built without weights on the meta
# device (free), one forward pass in train mode is traced with hooks, and a few more passes probe the input
# sizes the forward accepts. Weights are never downloaded: building "with weights" skips the loading.

# Input sizes tried on models whose forward rejects a size other than its weights' crop.
PROBE_SIZES = (160, 192, 224, 256, 288, 320, 384, 448, 480, 512, 518)


@contextlib.contextmanager
def _offline_meta_builds() -> Iterator[None]:
    """Builders run on the meta device with weight loading disabled (the builder's own choices remain).

    RegNet computes its block widths with tensors and reads them back (`.tolist()`), which meta tensors
    cannot do, so that one helper runs on the CPU.
    """
    width_helper = regnet.BlockParams.__dict__["from_init_params"]

    def widths_on_cpu(cls: type, *args: Any, **kwargs: Any) -> Any:
        with torch.device("cpu"):
            return width_helper.__func__(cls, *args, **kwargs)

    saved = (WeightsEnum.get_state_dict, nn.Module.load_state_dict)
    regnet.BlockParams.from_init_params = classmethod(widths_on_cpu)  # type: ignore[assignment]
    WeightsEnum.get_state_dict = lambda self, *args, **kwargs: {}  # type: ignore[method-assign]
    nn.Module.load_state_dict = lambda self, *args, **kwargs: None  # type: ignore[method-assign,assignment]
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        regnet.BlockParams.from_init_params = width_helper  # type: ignore[assignment]
        WeightsEnum.get_state_dict, nn.Module.load_state_dict = saved  # type: ignore[method-assign,assignment]


def _forward(model: nn.Module, size: int, image: Any = None) -> Any:
    """The model's output for a batch of two size x size images, or None when the forward raises."""
    try:
        with torch.no_grad():
            return model(image if image is not None else torch.empty(2, 3, size, size))
    except Exception:  # noqa: BLE001 - any failure means "this size is not accepted"
        return None


class _Trace:
    """One traced forward: the input shape (without the batch) of every module called, in call order."""

    def __init__(self) -> None:
        self.inputs: dict[str, list[int] | None] = {}
        self.input_objects: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.result: Any = None
        self.image: Any = None


def _trace(model: nn.Module, size: int) -> _Trace:
    trace = _Trace()

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if name not in trace.inputs:
                first = args[0] if args else None
                trace.inputs[name] = list(first.shape[1:]) if isinstance(first, torch.Tensor) else None
                trace.input_objects[name] = first
                trace.outputs[name] = output
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules() if name]
    trace.image = torch.empty(2, 3, size, size)
    try:
        trace.result = _forward(model, size, trace.image)
    finally:
        for handle in handles:
            handle.remove()
    return trace


def _layer(module: nn.Module, trace: _Trace, path: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": type(module).__name__, "called": path in trace.inputs}
    if path in trace.inputs:
        entry["input"] = trace.inputs[path]
    if isinstance(module, nn.Linear):
        entry.update({"in": module.in_features, "out": module.out_features})
    elif isinstance(module, nn.Conv2d):
        entry.update({"in": module.in_channels, "out": module.out_channels, "kernel": module.kernel_size[0]})
    elif isinstance(module, nn.Sequential):
        entry["len"] = len(module)
    return entry


def _sequential_prefix(children: Sequence[str], trace: _Trace) -> int:
    """How many leading children `nn.Sequential(*list(model.children())[:k])` may keep and still compute what
    the model feeds the next child: each child must receive exactly the previous one's output (the image for
    the first), with nothing done in between by the model's forward (a flatten, a ReLU, an input transform)."""
    previous = trace.image
    for index, child in enumerate(children):
        if child not in trace.input_objects or trace.input_objects[child] is not previous:
            return max(index - 1, 0) if index else 0
        previous = trace.outputs[child]
    return len(children)


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:index]) for index in range(1, len(parts))]


def _last_layer_with_parameters(model: nn.Module, trace: _Trace, under: str | None, skip: Sequence[str]) -> str:
    """The last module called that holds parameters itself: the layer that produces the logits."""
    modules = dict(model.named_modules())
    found = [
        path for path in trace.inputs
        if next(modules[path].parameters(recurse=False), None) is not None
        and (under is None or path.startswith(f"{under}."))
        and not any(path == root or path.startswith(f"{root}.") for root in skip)
    ]
    return found[-1]


def _accepted_sizes(model: nn.Module, sizes: Sequence[int]) -> list[int]:
    model.eval()
    accepted = [size for size in sorted(set(sizes)) if _forward(model, size) is not None]
    model.train()
    return accepted


def _smallest_train_size(model: nn.Module, largest: int) -> int:
    """The smallest square input the train-mode forward accepts (auxiliary heads need more than the trunk)."""
    low, high = 1, largest
    while low < high:
        middle = (low + high) // 2
        if _forward(model, middle) is None:
            low = middle + 1
        else:
            high = middle
    return low


def _architecture(
    builder: Callable[..., Any], enum: type[WeightsEnum], trees: _ParameterTrees
) -> dict[str, Any]:
    crop = enum.DEFAULT.transforms().crop_size[0]
    model = builder(weights=None)
    model.train()
    trace = _trace(model, 224)
    if trace.result is None:
        trace = _trace(model, crop)
    if trace.result is None:
        raise SystemExit(f"{builder.__name__}(weights=None) accepts neither 224 nor {crop} pixels")
    modules = dict(model.named_modules())
    children = [name for name, _ in model.named_children()]
    # Auxiliary heads: children whose own output is returned beside the logits (train mode only).
    extra = list(trace.result[1:]) if isinstance(trace.result, tuple) else []
    aux_roots = [name for name in children if any(trace.outputs.get(name) is out for out in extra)]
    head = _last_layer_with_parameters(model, trace, None, aux_roots)
    aux_heads = {root: _last_layer_with_parameters(model, trace, root, ()) for root in aux_roots}
    stem = next(path for path in trace.inputs if isinstance(modules[path], nn.Conv2d))
    paths = set(children) | {stem}
    for path in (head, *aux_heads.values()):
        for container in (*_ancestors(path), path):
            paths.add(container)
            if isinstance(modules[container], nn.Sequential):  # a classifier: each of its layers
                paths.update(f"{container}.{name}" for name, _ in modules[container].named_children())
    entry: dict[str, Any] = {
        "head": head,
        "stem": stem,
        "children": children,
        "layers": {path: _layer(modules[path], trace, path) for path in sorted(paths)},
        "sequential_prefix": _sequential_prefix(children, trace),
        "batchnorm": any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in modules.values()),
        "dropout": any(_drops(m) for m in modules.values()),
        "parameters": trees.add(model),
    }
    if aux_roots:
        with_weights = builder(weights=enum.DEFAULT)
        flags = [name for name in inspect.signature(type(model)).parameters if name.startswith("aux")]
        entry["aux"] = {
            root: {
                "head": aux_heads[root],
                "with_weights": getattr(with_weights, root, None) is not None,
                "without_weights": True,
            }
            for root in aux_roots
        }
        entry["aux_param"] = flags[0] if len(flags) == 1 else None
        entry["min_train_size"] = _smallest_train_size(model, crop)
    model.eval()
    fixed = _forward(model, crop + 32) is None or _forward(model, 224 + 32) is None
    if fixed:
        # The forward asserts its size: record what each way of building it accepts.
        sizes = {"none": _accepted_sizes(model, (*PROBE_SIZES, crop))}
        for member in enum:
            built = builder(weights=member)
            member_crop = member.transforms().crop_size[0]
            sizes[member.name] = _accepted_sizes(built, (*PROBE_SIZES, member_crop))
        entry["input_sizes"] = sizes
    return entry


class _ParameterTrees:
    """Parameter names of every model, stored as a tree of module names whose identical subtrees are shared.

    A ResNet block, an EfficientNet stage or a ViT encoder layer repeats the same parameter names under a
    different index; written out in full the names of all classification models take megabytes, shared
    they take a few kilobytes and expand back exactly (featlint.analysis.torchvision.parameter_names).
    Each node is [direct parameter names, [[child name, node index], ...]] in registration order.
    """

    def __init__(self) -> None:
        self.nodes: list[list[Any]] = []
        self._index: dict[str, int] = {}

    def add(self, module: nn.Module) -> int:
        node = [
            [name for name, _ in module.named_parameters(recurse=False)],
            [[name, self.add(child)] for name, child in module.named_children()
             if next(child.parameters(), None) is not None],
        ]
        key = json.dumps(node)
        if key not in self._index:
            self._index[key] = len(self.nodes)
            self.nodes.append(node)
        return self._index[key]


def knowledge() -> dict[str, Any]:
    """Everything featlint reads about torchvision, as plain JSON data."""
    builders: dict[str, dict[str, Any]] = {}
    enums: dict[str, type[WeightsEnum]] = {}
    trees = _ParameterTrees()
    qualified_by_builder: dict[Callable[..., Any], str] = {}
    for task, module in TASKS.items():
        for registry_name in list_models(module=module):
            builder = get_model_builder(registry_name)
            if getattr(module, builder.__name__, None) is not builder:
                raise SystemExit(f"{registry_name} is not exported as {module.__name__}.{builder.__name__}")
            qualified = f"{module.__name__}.{builder.__name__}"
            qualified_by_builder[builder] = qualified
            _remember(enums, get_model_weights(registry_name))
            builders[qualified] = {
                "defined_in": builder.__module__,
                "task": task,
                "weights_params": _weights_params(registry_name, builder, enums),
                "num_classes_param": accepts_num_classes(builder),
            }
            if task == "classification":
                with _offline_meta_builds():
                    builders[qualified]["architecture"] = _architecture(
                        builder, get_model_weights(registry_name), trees
                    )
    return {
        "torchvision_version": torchvision.__version__.split("+")[0],
        "builders": builders,
        "registry": {name: qualified_by_builder[get_model_builder(name)] for name in list_models()},
        "weights": {name: _weights_entry(enum) for name, enum in enums.items()},
        "parameter_trees": trees.nodes,
    }


def _dump(value: Any, depth: int = 0) -> str:
    """Sorted JSON with one line per builder, weights enum and parameter-tree node: compact (the file ships
    with featlint) yet readable as a diff when torchvision changes."""
    if depth < 2 and isinstance(value, dict) and value:
        items = (f"{json.dumps(key)}: {_dump(value[key], depth + 1)}" for key in sorted(value))
        return "{\n" + ",\n".join(items) + "\n}"
    if depth < 2 and isinstance(value, list) and value and isinstance(value[0], list):
        return "[\n" + ",\n".join(_dump(item, depth + 1) for item in value) + "\n]"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def render() -> str:
    return _dump(knowledge()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--stdout", action="store_true", help="print the JSON instead of writing it")
    action.add_argument("--check", action="store_true", help="exit 1 if the shipped file is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.stdout:
        sys.stdout.write(text)
    elif args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale; run {Path(__file__).name}", file=sys.stderr)
            return 1
    else:
        OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
