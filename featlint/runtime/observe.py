"""Turn what the tracker saw in the child process into a :class:`Report`: which models, labelled by the
script's own variable names, their parameter rows, the source lines of their layers and optimizers, and
the findings. Runs after every watched step and once at the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from featlint.runtime import collect
from featlint.runtime.findings import Observation, Site, evaluate
from featlint.runtime.instrument import Tracker
from featlint.runtime.report import Report


def observe(
    tracker: Tracker, namespaces: Sequence[Mapping[str, Any]], error: BaseException | None, notes: list[str],
    meta: bool, script: str,
) -> Report:
    models = _label(list(tracker.models.values()) or _models_in(namespaces), namespaces)
    named = collect.named_parameters(models)
    stepped = tracker.steps > 0
    got_grad = {id(p): id(p) in tracker.last_got_grad for _, p in named} if stepped else None
    changed = {id(p): tracker.last_changed.get(id(p), False) for _, p in named} if stepped and not meta else None
    rows = collect.rows(named, collect.membership(tracker.optimizers), got_grad, changed)
    notes = list(notes)
    observation = Observation(
        rows=rows,
        optimizers=collect.optimizer_infos(tracker.optimizers, [p for _, p in named], tracker.optimizer_sites),
        steps=tracker.steps,
        ever_got_grad=frozenset(name for name, p in named if id(p) in tracker.got_grad),
        values_compared=not meta,
        changed_batchnorms=sorted(tracker.changed_batchnorms),
        frozen_changed=[name for name, p in named if id(p) in tracker.frozen_changed],
        empty_optimizer_site=tracker.empty_optimizer_site,
        module_sites=_module_sites(tracker, models),
        step_site=tracker.step_site,
        forward_site=tracker.forward_site,
        train_site=tracker.train_site,
        freeze_sites={name: site for name, p in named if (site := tracker.freeze_sites.get(id(p))) is not None},
        fallback=Site(script, 1),
    )
    failure = _forward_failure(tracker, error)
    if failure is not None:
        failed_module, inputs = failure
        if meta and "meta" in str(error):
            notes.append(f"on the meta device the script failed where real data meets the model ({error}); "
                         "the checks above cover what was built")
        else:
            layer = _path_in(models, failed_module)
            observation.forward_error = collect.forward_error(layer, failed_module, inputs, error)  # type: ignore[arg-type]
    if not models:
        notes.append("no model with parameters was found: the script built none before it stopped")
    return Report.of(rows, evaluate(observation), collect.module_kinds(models), notes, tracker.steps,
                     collect.adapter_counts(models))


def _models_in(namespaces: Sequence[Mapping[str, Any]]) -> list[nn.Module]:
    """Without a forward pass: the parameter-holding modules the script's variables hold, outermost only."""
    found: dict[int, nn.Module] = {}
    for namespace in namespaces:
        for value in list(namespace.values()):
            if isinstance(value, nn.Module) and next(value.parameters(), None) is not None:
                found.setdefault(id(value), value)
    inner = {id(sub) for m in found.values() for sub in m.modules() if sub is not m}
    return [m for key, m in found.items() if key not in inner]


def _label(models: list[nn.Module], namespaces: Sequence[Mapping[str, Any]]) -> dict[str, nn.Module]:
    labelled: dict[str, nn.Module] = {}
    for index, model in enumerate(models):
        names = [name for ns in namespaces for name, value in list(ns.items()) if value is model]
        label = next((n for n in names if n not in labelled and not n.startswith("_")), f"model{index}")
        labelled[label] = model
    return labelled


def _module_sites(tracker: Tracker, models: Mapping[str, nn.Module]) -> dict[str, Site]:
    sites = {}
    for label, model in models.items():
        prefix = f"{label}." if len(models) > 1 else ""
        for name, module in model.named_modules():
            site = tracker.site_of(module)
            if site is not None:
                sites[(prefix + name).rstrip(".")] = site
    return sites


def _path_in(models: Mapping[str, nn.Module], module: nn.Module) -> str:
    for label, model in models.items():
        prefix = f"{label}." if len(models) > 1 else ""
        path = collect.module_paths(model).get(id(module))
        if path is not None:
            return (prefix + path).rstrip(".")
    return ""


def _forward_failure(tracker: Tracker, error: BaseException | None) -> tuple[nn.Module, object] | None:
    """The innermost layer that was running when the script's fatal error was raised, if it was a forward."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        recorded = tracker.failures.get(id(error))
        if recorded is not None and recorded[0] is error:
            return recorded[1], _first_input(recorded[2])
        error = error.__cause__ or error.__context__
    return None


def _first_input(call: object) -> object:
    args, kwargs = call  # type: ignore[misc]
    return args if args else tuple(kwargs.values())

