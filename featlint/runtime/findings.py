"""From what a run observed to the findings FL201-FL203 and FL701-FL704.

Torch-free: `audit` and the instrumented child both reduce what they saw to an :class:`Observation` of plain
data (the parameter rows, the optimizers, the source lines where things were made) and share these checks,
so the API and the command line can never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from featlint.diagnostics import Diagnostic, Location
from featlint.runtime.codes import RUNTIME_CODES
from featlint.runtime.report import Evidence, ParamRow


@dataclasses.dataclass(frozen=True)
class Site:
    """Where in the user's code an optimizer or module was made, a head assigned, a step taken: the
    expression that did it (1-based columns, the end exclusive), or the whole line where that is unknown."""

    path: str
    row: int
    column: int = 1
    end_row: int | None = None
    end_column: int | None = None

    def describe(self) -> str:
        return f"line {self.row}"


@dataclasses.dataclass(frozen=True)
class OptimizerInfo:
    kind: str  # the class name, e.g. SGD
    site: Site | None
    params: int  # tensors it holds
    trainable: int  # of those, how many require grad
    foreign: int  # of those, how many belong to none of the observed models (a replaced head's)


@dataclasses.dataclass(frozen=True)
class ForwardError:
    """A forward pass that raised: the innermost layer that was running and what it received."""

    layer: str  # dotted path in the model ("" for the model itself)
    layer_repr: str
    input_shapes: tuple[tuple[int, ...], ...]
    error: str  # "RuntimeError: mat1 and mat2 ..."
    expected: str | None  # what the layer takes, e.g. "512 input features"


@dataclasses.dataclass
class Observation:
    rows: list[ParamRow]
    optimizers: list[OptimizerInfo]
    steps: int  # optimizer steps seen; grads and changes are known only when > 0
    values_compared: bool  # False on the meta device: FL702/FL703 need real values
    # The parameters that got a gradient in any step (the rows say: in the last one); None: as the rows say.
    ever_got_grad: frozenset[str] | None = None
    changed_batchnorms: list[str] = dataclasses.field(default_factory=list)
    # Parameters that changed in a step while they were frozen (a row's `changed` may predate its freeze).
    frozen_changed: list[str] = dataclasses.field(default_factory=list)
    forward_error: ForwardError | None = None
    empty_optimizer_site: Site | None = None  # an optimizer constructor that raised "empty parameter list"
    module_sites: dict[str, Site] = dataclasses.field(default_factory=dict)  # module path -> made/assigned
    step_site: Site | None = None
    forward_site: Site | None = None
    train_site: Site | None = None  # the `model.train()` that put the frozen BatchNorm layers in training mode
    freeze_sites: dict[str, Site] = dataclasses.field(default_factory=dict)  # parameter -> where it was frozen
    fallback: Site = Site("<runtime>", 1)  # where a finding points when nothing better is known


Finding = tuple[Diagnostic, Evidence]


def evaluate(obs: Observation) -> list[Finding]:
    """The findings, each with what it is about (for `check --runtime`'s confirmation by place)."""
    found = [
        *_empty_optimizers(obs),
        *_not_in_optimizer(obs),
        *_frozen_in_optimizer(obs),
        *_no_gradient(obs),
        *_frozen_changed(obs),
        *_batchnorm_changed(obs),
        *_forward_failed(obs),
    ]
    return sorted(found, key=lambda f: f[0].sort_key)


def _diagnostic(code: str, site: Site, message: str, subjects: Iterable[str] = (),
                related: Iterable[Site | None] = ()) -> Finding:
    name, severity = RUNTIME_CODES[code]
    end = (Location(site.end_row, site.end_column) if site.end_row is not None and site.end_column is not None
           else Location(site.row, site.column + 1))
    rows = tuple(dict.fromkeys((s.path, s.row) for s in (site, *related) if s is not None))
    return (Diagnostic(code, name, severity, message, site.path, Location(site.row, site.column), end),
            Evidence(rows, tuple(subjects)))


def _names(names: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _are(number: int) -> str:
    return "is" if number == 1 else "are"


def _optimizer_site(obs: Observation) -> Site:
    return next((o.site for o in obs.optimizers if o.site), obs.fallback)


def _module_site(obs: Observation, name: str) -> Site | None:
    """The recorded site of the module holding `name`, or of its nearest recorded ancestor."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        site = obs.module_sites.get(".".join(parts[:end]))
        if site is not None:
            return site
    return None


def _empty_optimizers(obs: Observation) -> Iterable[Finding]:
    if obs.empty_optimizer_site is not None:
        frozen = sum(1 for r in obs.rows if not r.requires_grad)
        yield _diagnostic("FL203", obs.empty_optimizer_site, (
            f"the optimizer got an empty parameter list ({_count(frozen, 'parameter')} of the model are frozen) "
            "and the script stopped: unfreeze or replace the head before building the optimizer"),
            subjects=[r.name for r in obs.rows if not r.requires_grad], related=_frozen_at(obs, obs.rows))
    for optimizer in obs.optimizers:
        if optimizer.params and not optimizer.trainable:
            yield _diagnostic("FL203", optimizer.site or obs.fallback, (
                f"this {optimizer.kind} holds {_count(optimizer.params, 'parameter')} and none of them requires "
                "grad: nothing trains; unfreeze or replace the head before building the optimizer"),
                subjects=[r.name for r in obs.rows if r.optimizer is not None],
                related=_frozen_at(obs, [r for r in obs.rows if r.optimizer is not None]))


def _not_in_optimizer(obs: Observation) -> Iterable[Finding]:
    if not obs.optimizers:
        return
    missing = [r for r in obs.rows if r.requires_grad and r.optimizer is None]
    if not missing:
        return
    modules = list(dict.fromkeys(_owner(r.name) for r in missing))
    built = _optimizer_site(obs)
    assigned = [
        f"`{m}` was put in place on line {site.row}" for m in modules[:2]
        if (site := obs.module_sites.get(m)) is not None and site.path == built.path and site.row > built.row
    ]
    stale = sum(o.foreign for o in obs.optimizers)
    message = (
        f"{_count(len(missing), 'trainable parameter')} ({_names([r.name for r in missing])}) {_are(len(missing))} in no optimizer: "
        "they get gradients but never change"
    )
    if assigned:
        message += f" ({'; '.join(assigned)}, after the optimizer was built)"
    if stale:
        message += f"; the optimizer holds {_count(stale, 'parameter')} the model no longer has (a replaced layer's)"
    message += "; build the optimizer after replacing or unfreezing layers, or add them with `add_param_group`"
    yield _diagnostic("FL201", built, message, subjects=[*modules, *(r.name for r in missing)],
                      related=[obs.module_sites.get(m) for m in modules])


def _frozen_in_optimizer(obs: Observation) -> Iterable[Finding]:
    held = [r for r in obs.rows if not r.requires_grad and r.optimizer is not None]
    if held:
        yield _diagnostic("FL202", _optimizer_site(obs), (
            f"{_count(len(held), 'frozen parameter')} ({_names([r.name for r in held])}) {_are(len(held))} in the optimizer: it "
            "keeps state for frozen parameters and trains them silently if they are unfrozen later; pass only "
            "trainable parameters, "
            "e.g. `filter(lambda p: p.requires_grad, model.parameters())`"),
            subjects=[r.name for r in held], related=_frozen_at(obs, held))


def _frozen_at(obs: Observation, rows: Sequence[ParamRow]) -> list[Site | None]:
    return [obs.freeze_sites.get(r.name) for r in rows if not r.requires_grad]


def _owner(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _dead_modules(rows: Sequence[ParamRow], ever: frozenset[str] | None) -> list[str]:
    """The largest module paths whose trainable parameters all got no gradient in any step ("" is the whole
    model)."""
    trainable = [r for r in rows if r.requires_grad and r.got_grad is not None]
    alive: set[str] = set()
    dead: set[str] = set()
    for row in trainable:
        parts = row.name.split(".")[:-1]
        prefixes = ["", *(".".join(parts[:i]) for i in range(1, len(parts) + 1))]
        (alive if (row.name in ever if ever is not None else row.got_grad) else dead).update(prefixes)
    dead -= alive
    return sorted(p for p in dead if not any(p != q and (q == "" or p.startswith(q + ".")) for q in dead))


def _no_gradient(obs: Observation) -> Iterable[Finding]:
    if obs.steps == 0:
        return
    for module in _dead_modules(obs.rows, obs.ever_got_grad):
        rows = [r for r in obs.rows if r.requires_grad and (not module or r.name.startswith(module + "."))]
        what = f"`{module}`" if module else "the whole model"
        message = (
            f"{what} ({_count(len(rows), 'trainable parameter')}) got no gradient in {_count(obs.steps, 'training step')}: "
        )
        message += (
            "the forward never uses it, so it never trains; assign the layer where the architecture's forward "
            "calls it, or remove it" if module else
            "nothing reaches the loss (a forward under `torch.no_grad()`?); run the training forward with "
            "gradients enabled"
        )
        yield _diagnostic("FL701", _module_site(obs, module) or obs.forward_site or obs.fallback, message,
                          subjects=[module, *(r.name for r in rows)], related=[obs.forward_site])


def _frozen_changed(obs: Observation) -> Iterable[Finding]:
    if not obs.values_compared:
        return
    changed = obs.frozen_changed
    if changed:
        yield _diagnostic("FL702", obs.step_site or _optimizer_site(obs), (
            f"{_count(len(changed), 'frozen parameter')} ({_names(changed)}) changed in `optimizer.step()`: the "
            "optimizer holds them and moves them with momentum or weight decay on zero gradients; build it "
            "from trainable parameters only, or clear gradients with `zero_grad(set_to_none=True)`"),
            subjects=changed, related=[_optimizer_site(obs), *(obs.freeze_sites.get(name) for name in changed)])


def _batchnorm_changed(obs: Observation) -> Iterable[Finding]:
    if not obs.values_compared or not obs.changed_batchnorms:
        return
    names = obs.changed_batchnorms
    site = obs.train_site or obs.forward_site or obs.fallback
    mode = ("this call put them in training mode" if obs.train_site is not None
            else "the model was in training mode (a new model is)")
    yield _diagnostic("FL703", site, (
        f"the running statistics of {_count(len(names), 'frozen BatchNorm layer')} ({_names(names)}) changed in "
        f"training: {mode}, which updates them although their parameters are frozen; put the frozen BatchNorm "
        "layers in `eval()` after every `model.train()`"), subjects=names, related=[obs.forward_site])


def _forward_failed(obs: Observation) -> Iterable[Finding]:
    error = obs.forward_error
    if error is None:
        return
    layer = f"`{error.layer}` ({error.layer_repr})" if error.layer else f"the model ({error.layer_repr})"
    shapes = ", ".join("x".join(map(str, s)) for s in error.input_shapes) or "no tensor"
    message = f"the forward pass failed in {layer} on an input of shape {shapes}: {error.error}"
    if error.expected:
        message += f"; the layer takes {error.expected}"
    site = (_module_site(obs, error.layer) if error.layer else None) or obs.forward_site or obs.fallback
    yield _diagnostic("FL704", site, message, subjects=[error.layer] if error.layer else [],
                      related=[obs.forward_site])
