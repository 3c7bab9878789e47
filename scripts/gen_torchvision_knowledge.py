"""Regenerate src/featlint/data/torchvision.json from the installed torchvision.

featlint must lint without torch, so what it knows about torchvision's model builders is read here, once,
from the real library, and shipped as data. Run this after changing the torchvision pinned by the
`runtime` extra in pyproject.toml and commit the result; `--check` lets CI notice a stale file.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torchvision
import torchvision.models.detection
import torchvision.models.optical_flow
import torchvision.models.quantization
import torchvision.models.segmentation
import torchvision.models.video
from torchvision.models import get_model_builder, get_model_weights, list_models
from torchvision.models._api import WeightsEnum

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "featlint" / "data" / "torchvision.json"

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


def _weights_entry(enum: type[WeightsEnum]) -> dict[str, Any]:
    members = {
        name: {"num_categories": len(categories) if (categories := member.meta.get("categories")) else None}
        for name, member in enum.__members__.items()
        if name == member.name  # DEFAULT is an alias, recorded as "default"
    }
    return {"module": public_module(enum), "members": members, "default": enum.DEFAULT.name}


def knowledge() -> dict[str, Any]:
    """Everything featlint reads about torchvision, as plain JSON data."""
    builders: dict[str, dict[str, Any]] = {}
    enums: dict[str, type[WeightsEnum]] = {}
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
    return {
        "torchvision_version": torchvision.__version__.split("+")[0],
        "builders": builders,
        "registry": {name: qualified_by_builder[get_model_builder(name)] for name in list_models()},
        "weights": {name: _weights_entry(enum) for name, enum in enums.items()},
    }


def render() -> str:
    return json.dumps(knowledge(), indent=1, sort_keys=True) + "\n"


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
