"""The model story: what happens to each model in a file, in the order it happens.

Transfer-learning bugs are about order and identity (a head replaced after the optimizer was built, a
freeze after the head was replaced, a new layer created after the model moved to the GPU). One abstract
interpretation of the file (:mod:`featlint.analysis.interpreter`) follows every model object through
assignments, aliases, `self.<attr>`, tuple unpacking, and calls to the file's own functions and classes, and
records an ordered list of :class:`Event`. Rules are short queries over that list.

What is tracked
  * models: built by a torchvision builder (`resnet50(...)`, `get_model("resnet50")`, `torch.hub.load`), by
    timm or transformers, or wrapped by PEFT (:mod:`.story_interpreter.hub_calls`),
    an instance of the file's own `nn.Module` class, an `nn.Sequential` of models, a DataParallel/DDP
    wrapper, or a parameter of a function that is never called in the file (an unknown model);
  * submodules as paths inside a model (`model.classifier[6]` is ``("classifier", "6")``); a model assigned
    into another (`self.backbone = resnet50()`) continues as a path of the outer one;
  * events: built, weights loaded, frozen/unfrozen (a whole path, or part of it when a slice, a name
    condition or an `if` selects), head (any submodule) replaced, re-initialised, moved to a device,
    a layer assigned on a parallel wrapper, mode switched, handed to an optimizer (which parameters, filtered on `requires_grad` or not,
    per param group with its lr), param group added, optimizer step, backward (and whether the loss was
    computed with gradients disabled), and escapes into code the file does not show.

Order
  Events are numbered in execution order; a call to one of the file's functions records the callee's events
  at the call; a Lightning `trainer.fit(module)` records the module's `configure_optimizers` at the `fit`. A
  statement inside a loop also runs after the statements that follow it in the loop body (next iteration):
  :meth:`Story.happens_after` knows this.

What it gives up on (precision first)
  Branches are both interpreted, and events inside them are marked conditional; a name bound differently by
  two branches becomes unknown afterwards. Values passed to functions from other modules are "escaped":
  rules that depend on nothing else touching the model stay silent after an escape. Recursion and call depth
  beyond a few levels are not followed. Nothing is inferred from types or from other files. A statement whose
  shape the interpreter did not expect (an exception while interpreting it) is unknown as a whole: its events
  are taken back, the names it binds are forgotten and the models it mentions escape (:mod:`.unknown`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable, Iterator

from featlint.analysis import torchvision as tv
from featlint.analysis.unknown import Unhandled
from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst

Path = tuple[str, ...]
# A file without any of these cannot build a story (the interpreter needs a torch-family import): the
# prefilter's tokens for every rule that reads the story.
STORY_TOKENS = ("torch", "timm", "lightning", "transformers", "peft")


@dataclasses.dataclass(frozen=True)
class HubOrigin:
    """Which model-hub library built a model, and what the script names: the timm architecture
    (`create_model("resnet50")`), the transformers class (`BertForSequenceClassification`), or None when the
    script does not write it. `adapters`: wrapped by PEFT (`get_peft_model`, `PeftModel.from_pretrained`)."""

    library: str  # "timm", "transformers" or "peft"
    name: str | None = None
    adapters: bool = False


@dataclasses.dataclass(eq=False)
class Model:
    """One model object; `node` is the expression that built it."""

    node: cst.CSTNode
    builder: tv.Builder | None = None
    # Weights requested when built: True (pretrained), False (random init), None (unknown).
    pretrained: bool | None = None
    user_class: cst.ClassDef | None = None
    wrapped: Model | None = None  # for DataParallel / DistributedDataParallel
    maybe_wrapper: bool = False  # a wrapper on some paths only (`if device_count() > 1: m = DataParallel(m)`)
    from_parameter: bool = False  # the parameter of a function that is never called in this file
    library: bool = False  # built by a model library (torchvision builder, get_model, torch.hub, timm, transformers)
    hub: HubOrigin | None = None  # built (or wrapped) by timm, transformers or PEFT
    home: tuple[Model, Path] | None = None  # once assigned into another model

    def root(self, path: Path = ()) -> tuple[Model, Path]:
        model, full = self, path
        seen = 0
        while model.home is not None and seen < 20:
            model, prefix = model.home
            full = prefix + full
            seen += 1
        return model, full


@dataclasses.dataclass(frozen=True)
class Params:
    """The parameters of a module (or part of them), as an optimizer or a loop receives them."""

    model: Model
    path: Path
    filtered: bool = False  # only those with requires_grad=True at the time they are taken
    partial: bool = False  # a selection of unknown extent (slice, name condition, if)
    node: cst.CSTNode | None = None
    selector: cst.BaseExpression | None = None  # a condition on parameter names, for FL206

    def located(self) -> tuple[Model, Path]:
        return self.model.root(self.path)


@dataclasses.dataclass(eq=False)
class Group:
    """One param group of an optimizer. `params` is None when featlint cannot tell what it holds."""

    params: tuple[Params, ...] | None
    lr: cst.BaseExpression | None
    node: cst.CSTNode


@dataclasses.dataclass(eq=False)
class Optimizer:
    node: cst.Call
    klass: str  # the torch.optim class name, e.g. "SGD"
    groups: list[Group]
    scope: Scope  # where its arguments are evaluated (to read learning rates)
    # Built in a function that returned without returning or storing it: gone from this event's order on.
    dead_after: int | None = None

    @property
    def known(self) -> bool:
        return all(group.params is not None for group in self.groups)

    def holdings(self) -> Iterator[Params]:
        for group in self.groups:
            yield from group.params or ()


class EventKind(enum.Enum):
    BUILD = "build"
    LOAD = "load"  # load_state_dict
    FREEZE = "freeze"  # requires_grad set: `value` False freezes, True unfreezes, None unknown
    HEAD = "head"  # a submodule assigned (replaced or added)
    WRAPPER_ASSIGN = "wrapper-assign"  # a layer assigned on a DataParallel/DDP wrapper
    INIT = "init"  # re-initialisation (apply(init_fn), nn.init.* over modules()/parameters())
    MOVE = "move"  # .to(device) / .cuda()
    MODE = "mode"  # `value` True: train(), False: eval()
    OPTIMIZER = "optimizer"
    ADD_GROUP = "add-group"
    STEP = "step"
    BACKWARD = "backward"
    LOSS_PATCH = "loss-patch"  # requires_grad forced on a loss
    ESCAPE = "escape"  # handed to code the file does not show
    EXHAUSTED = "exhausted"  # a one-shot parameter iterator handed to an optimizer after it was consumed


@dataclasses.dataclass(eq=False)
class Event:
    kind: EventKind
    order: int
    node: cst.CSTNode
    model: Model | None = None
    path: Path = ()
    conditional: bool = False  # inside an if/except/while: may not run
    loops: tuple[cst.CSTNode, ...] = ()  # enclosing loops, outermost first
    value: bool | None = None
    partial: bool = False
    optimizer: Optimizer | None = None
    params: tuple[Params, ...] = ()  # ADD_GROUP: what was added
    layer: cst.BaseExpression | None = None  # HEAD: the new layer
    on_device: bool = False  # HEAD: the new layer was created on a device
    fresh: bool = False  # HEAD: the new layer brings randomly initialised parameters (not Identity, not a model)
    has_params: bool = False  # HEAD: the new value has parameters at all (a fresh layer or a whole model)
    # HEAD: a layer the user's own class defines on its instance in one of its methods (`self.conv = ...` in
    # `__init__`): part of the design, not a replaced head.
    constructed: bool = False
    strict: bool | None = None  # LOAD
    result_used: bool = True  # LOAD
    resume: bool = False  # LOAD: the script's own training checkpoint, not pretrained weights (checkpoints.py)
    grad_disabled: bool = False  # BACKWARD: the loss was computed under no_grad/inference_mode
    selector: cst.BaseExpression | None = None  # FREEZE: a condition on parameter names
    related: cst.CSTNode | None = None  # the other half of the story (EXHAUSTED: where it was consumed)
    module_level: bool = False  # run by the module's own statements, not inside a call to the file's functions
    assumptions: tuple[str, ...] = ()  # the decided branches it was recorded on ("`feature_extract` is True")
    # HEAD: how the script names the new layer when `node` is not its expression (`model.fc` for
    # `model.reset_classifier(10)`); see `named`.
    label: str | None = None
    _located: tuple[Model, Path] | None = dataclasses.field(default=None, repr=False)

    def located(self) -> tuple[Model, Path] | None:
        if self._located is not None:
            return self._located
        return self.model.root(self.path) if self.model is not None else None

    def named(self, code: Callable[[cst.CSTNode], str]) -> str:
        """The event's subject as the script would write it: `label`, or the code of `node`."""
        return self.label if self.label is not None else code(self.node)

    def pin(self) -> None:
        """Fix where the event sits once the story is complete (a model is not moved into another after)."""
        self._located = self.model.root(self.path) if self.model is not None else None


def covers(outer: Path, inner: Path) -> bool:
    """`outer` is `inner` or one of its ancestors."""
    return inner[: len(outer)] == outer


def overlaps(a: Path, b: Path) -> bool:
    return covers(a, b) or covers(b, a)


@dataclasses.dataclass
class Story:
    events: list[Event]
    models: list[Model]
    optimizers: list[Optimizer]
    unhandled: list[Unhandled] = dataclasses.field(default_factory=list)  # statements given up on (unknown.py)

    def __post_init__(self) -> None:
        for event in self.events:
            event.pin()

    def holdings(self) -> Iterator[tuple[Event, Params]]:
        """Every optimizer construction with each set of parameters it was given."""
        for built in self.of(EventKind.OPTIMIZER):
            assert built.optimizer is not None, "an OPTIMIZER event without its optimizer"
            for held in built.optimizer.holdings():
                yield built, held

    @functools.cached_property
    def _by_kind(self) -> dict[EventKind, list[Event]]:
        index: dict[EventKind, list[Event]] = {kind: [] for kind in EventKind}
        for event in self.events:
            index[event.kind].append(event)
        return index

    @functools.cached_property
    def _by_model(self) -> dict[int, list[Event]]:
        """Events by the root model they concern (models are keyed by identity)."""
        index: dict[int, list[Event]] = {}
        for event in self.events:
            if event.model is not None:
                index.setdefault(id(event.model.root()[0]), []).append(event)
        return index

    @functools.cached_property
    def _by_model_kind(self) -> dict[tuple[int, EventKind], list[Event]]:
        index: dict[tuple[int, EventKind], list[Event]] = {}
        for key, events in self._by_model.items():
            for event in events:
                index.setdefault((key, event.kind), []).append(event)
        return index

    def of(self, kind: EventKind, model: Model | None = None) -> list[Event]:
        if model is None:
            return self._by_kind[kind]
        return self._by_model_kind.get((id(model), kind), [])

    def involves_pretrained_use(self, model: Model) -> bool:
        """The model is, or contains, a library model (or is a function's parameter that may be one): the
        transfer-learning setting. A module built only from the file's own layers is someone's design."""
        return any(m.root()[0] is model and (m.library or m.from_parameter) for m in self.models)

    def pretrained_parts(self, model: Model, before: Event | None = None) -> list[Path]:
        """Paths inside `model` that hold pretrained weights: the model itself or a submodel built with
        weights, and anything `load_state_dict` filled (before `before`, when given) except from the script's
        own training checkpoint (a resume)."""
        parts = []
        for other in self.models:
            root, path = other.root()
            if root is model and other.pretrained:
                parts.append(path)
        for load in self.on(model, [EventKind.LOAD]):
            if not load.resume and (before is None or load.order < before.order):
                located = load.located()
                assert located is not None, "a LOAD event without the model it loads into"
                parts.append(located[1])
        return parts

    def training_over(self, event: Event, model: Model) -> bool:
        """Training ran before `event` (a step, a backward, or the model or an optimizer handed to code the file
        does not show) and nothing trains after it (none of those, nor a new optimizer over the model): what
        `event` changes once training is over (a notebook's final cell) changes nothing. With no training in
        sight (set-up code, the training elsewhere), False."""
        training = [
            *self.of(EventKind.STEP), *self.of(EventKind.BACKWARD), *self.on(model, [EventKind.ESCAPE]),
            *(e for e in self.of(EventKind.ESCAPE) if e.optimizer is not None),
        ]
        if not any(e.order < event.order for e in training):
            return False
        return not any(self.happens_after(e, event) for e in (*training, *self.optimizers_over(model)))

    def trains_pretrained(self, held: Params, built: Event) -> bool:
        """The optimizer built at `built` trains pretrained weights through `held`: nothing in it was frozen
        before, and it covers a pretrained part that no replaced layer took the place of."""
        model, path = held.located()
        if any(f.value is not True for f in self.freezes_before(model, path, built)):
            return False  # anything frozen: the user is managing what trains
        heads = self.on(model, [EventKind.HEAD])
        replaced = [h.located()[1] for h in heads if h.order < built.order]  # type: ignore[index]
        for part in self.pretrained_parts(model, before=built):
            if covers(path, part) or (covers(part, path) and not any(covers(r, path) for r in replaced)):
                return True
        return False

    def on(self, model: Model, kinds: Iterable[EventKind] | None = None) -> list[Event]:
        if kinds is None:
            return self._by_model.get(id(model), [])
        parts = [self._by_model_kind.get((id(model), kind), []) for kind in dict.fromkeys(kinds)]
        found = [part for part in parts if part]
        if len(found) <= 1:
            return list(found[0]) if found else []
        return sorted((e for part in found for e in part), key=lambda e: e.order)

    def path_note(self, *events: Event) -> str:
        """` (when `feature_extract` is True)` when the events a finding rests on (or what happened before them to
        their models and to what their optimizer holds) were recorded on a branch the file decides: the finding
        holds on that path. Empty when it holds on every path."""
        latest = max(e.order for e in events)
        related: list[Event] = list(events)
        for event in events:
            if event.model is not None:
                related.extend(self.on(event.model.root()[0]))
            if event.optimizer is not None:
                related.extend(e for held in event.optimizer.holdings() for e in self.on(held.located()[0]))
        notes = dict.fromkeys(note for e in related if e.order <= latest for note in e.assumptions)
        return f" (when {' and '.join(notes)})" if notes else ""

    @staticmethod
    def happens_after(later: Event, earlier: Event) -> bool:
        """`later` runs after `earlier`: it comes later, or both sit in one loop (the next iteration)."""
        if later.order > earlier.order:
            return True
        return later is not earlier and any(loop in earlier.loops for loop in later.loops)

    @staticmethod
    def alive_at(built: Event, change: Event) -> bool:
        """The optimizer `built` made can still update when `change` runs (it was not local to a function that
        has returned by then)."""
        optimizer = built.optimizer
        return optimizer is None or optimizer.dead_after is None or change.order < optimizer.dead_after

    def optimizers_over(self, model: Model) -> list[Event]:
        """OPTIMIZER events whose optimizer may hold parameters of `model` (unknown holdings included)."""
        found = []
        for event in self.of(EventKind.OPTIMIZER):
            optimizer = event.optimizer
            assert optimizer is not None, "an OPTIMIZER event without its optimizer"
            if not optimizer.known or any(p.located()[0] is model for p in optimizer.holdings()):
                found.append(event)
        return found

    def rebuilt_after(self, model: Model, change: Event) -> bool:
        """A (possibly) new optimizer over `model` is built after `change`, or an escape may have built one."""
        located = change.located()
        changed = located[1] if located is not None else ()
        for event in self.optimizers_over(model):
            assert event.optimizer is not None, "an OPTIMIZER event without its optimizer"
            holds_it = not event.optimizer.known or any(
                p.located()[0] is model and overlaps(p.located()[1], changed) for p in event.optimizer.holdings()
            )
            if holds_it and self.happens_after(event, change):
                return True
        return any(
            self.happens_after(event, change) for event in self.on(model, [EventKind.ESCAPE])
        )

    def group_added_after(self, optimizer: Optimizer, change: Event) -> bool:
        for event in self.of(EventKind.ADD_GROUP):
            if event.optimizer is optimizer and self.happens_after(event, change):
                return True
        return any(
            e.optimizer is optimizer and self.happens_after(e, change) for e in self.of(EventKind.ESCAPE)
        )

    def freezes_before(self, model: Model, path: Path, event: Event) -> list[Event]:
        """FREEZE events on `model` that touch `path` (or part of it) and run before `event`."""
        found = []
        for freeze in self.on(model, [EventKind.FREEZE]):
            located = freeze.located()
            assert located is not None, "a FREEZE event without the model it freezes"
            if freeze.order < event.order and overlaps(located[1], path):
                found.append(freeze)
        return found

    def frozen_at(self, model: Model, path: Path, event: Event) -> Event | None:
        """The freeze that certainly leaves every parameter under `path` frozen when `event` runs, if any:
        an unconditional, whole-path freeze with nothing re-enabled, replaced or escaped since."""
        state: Event | None = None
        for other in self.on(model):
            if other.order >= event.order:
                break
            located = other.located()
            assert located is not None, f"a {other.kind.name} event listed under a model but without one"
            other_path = located[1]
            if other.kind is EventKind.FREEZE:
                if (
                    other.value is False and not other.partial and not other.conditional
                    and covers(other_path, path)
                ):
                    state = other
                elif other.value is not False and overlaps(other_path, path):
                    state = None  # something under `path` may be trainable again
            elif other.kind is EventKind.HEAD and other.has_params and overlaps(other_path, path):
                state = None  # a new layer trains
            elif other.kind is EventKind.ESCAPE:
                state = None  # unknown code may have changed anything
        return state
