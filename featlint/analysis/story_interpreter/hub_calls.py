"""Model-hub libraries in the story: what timm, Hugging Face transformers and PEFT calls do to a model.

* timm: `create_model(name, pretrained=...)` builds a model (its architecture known when `name` is written);
  `reset_classifier(n)` puts a new head where the architecture's head is (`fc`, `head`, `head.fc`...,
  from the knowledge): a trainable layer, or nothing trainable for `n=0`; `get_classifier()` is that head.
* transformers: `<model class>.from_pretrained(...)` builds a pretrained model, `from_config(...)` and the
  constructor a randomly initialised one; `model.base_model` is the backbone attribute (`bert`, `vit`...)
  the class's knowledge names; `transformers.AdamW`/`Adafactor` are optimizers like torch's.
* PEFT: `get_peft_model(model, cfg)` and `PeftModel.from_pretrained(model, ..., is_trainable=True)` return
  the same model with adapters, PEFT having set `requires_grad` itself (the base frozen, adapters and
  `modules_to_save` trainable): recorded as a whole-model `requires_grad` change of unknown value, so that
  no earlier freeze of the user's decides what trains any more, and the documented
  `AdamW(peft_model.parameters())` is not a frozen backbone handed to the optimizer. Without
  `is_trainable=True`, `PeftModel.from_pretrained` (and `AutoPeftModel...`) freezes everything (inference
  mode); `prepare_model_for_kbit_training` is a change of unknown value too. Freezes the user writes after
  wrapping are the user's, as on any model. A base featlint cannot see still gives a (library) model.

Where featlint cannot tell, it claims nothing: with the architecture chosen at run time the head is "some
part of the model" (a partial path at its root); with `n` unknown, `reset_classifier(n)` is a `requires_grad`
change of unknown value at the head (a new Linear, or an Identity for 0).
"""

from __future__ import annotations

from featlint.analysis import calls
from featlint.analysis import hub_knowledge as hk
from featlint.analysis.story import EventKind, HubOrigin, Model, Path
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import UNHANDLED, Constant, Ref
from featlint.startup.deferred import cst

HUB_LIBRARIES = ("timm.", "transformers.", "peft.")
# transformers' own optimizers take parameters (or param groups) like torch.optim's.
HF_OPTIMIZERS = frozenset({"AdamW", "Adafactor"})
# PEFT-model methods that change which adapter is active or add one: what trains is PEFT's choice again.
_ADAPTER_SWITCHES = frozenset({"add_adapter", "load_adapter", "set_adapter", "enable_adapter_layers",
                               "disable_adapter_layers", "delete_adapter"})
# PEFT-model methods returning the model they are called on (merged, or with the adapters removed).
_UNWRAPPING = frozenset({"merge_and_unload", "unload", "get_base_model"})
_HUB_METHODS = _ADAPTER_SWITCHES | _UNWRAPPING | {"reset_classifier", "get_classifier"}


class HubCalls(Recorder):
    def _hub_call(self, call: cst.Call, name: str, args: list[object], frame: Frame) -> object:
        """A call of timm, transformers or PEFT by its qualified name; UNHANDLED when it is none of those
        the story knows (the caller treats it like any other library call)."""
        library, _, rest = name.partition(".")
        parts = rest.split(".")
        if name in calls.TIMM_CREATE:
            return self._timm_model(call, args, frame)
        if library == "transformers":
            return self._transformers_call(call, parts, args, frame)
        if library == "peft":
            return self._peft_call(call, parts, args, frame)
        return UNHANDLED

    # --- timm ---------------------------------------------------------------------------------------
    def _timm_model(self, call: cst.Call, args: list[object], frame: Frame) -> Ref:
        flag = calls.keyword(call, "pretrained")
        _, arch = self._arg(call, args, 0, "model_name")
        written = arch.value if isinstance(arch, Constant) and isinstance(arch.value, str) else None
        model = self._model(
            call, pretrained=calls.bool_literal(flag.value) if flag else False, library=True,
            hub=HubOrigin("timm", written),
        )
        self._event(EventKind.BUILD, call, frame, Ref(model))
        return Ref(model)

    def _timm_method(self, call: cst.Call, ref: Ref, method: str, args: list[object], frame: Frame) -> object:
        if method == "get_classifier":
            heads = self._timm_heads(ref.model)
            if heads is None or len(heads) != 1:
                return Ref(ref.model, (), partial=True)
            # Where the architecture's reset_classifier replaces a whole module around the classifier,
            # which of the two the accessor returns is not known: part of that module.
            return Ref(ref.model, heads[0], partial=heads != self._timm_heads(ref.model, whole=False))
        if method != "reset_classifier":
            return UNHANDLED
        _, classes = self._arg(call, args, 0, "num_classes")
        count = classes.value if isinstance(classes, Constant) and isinstance(classes.value, int) else None
        heads = self._timm_heads(ref.model)
        receiver = self.module.code_for_node(call.func.value)  # type: ignore[attr-defined]
        for path in heads if heads is not None else [()]:
            if count is None:  # a new Linear, or Identity for 0: what trains there is unknown
                self._event(EventKind.FREEZE, call, frame, Ref(ref.model, path), value=None, partial=heads is None)
                continue
            label = f"{receiver}.{'.'.join(path)}" if path else f"{receiver}.get_classifier()"
            self._event(
                EventKind.HEAD, call, frame, Ref(ref.model, path), partial=heads is None, layer=call,
                fresh=count > 0, has_params=count > 0, label=label,
            )
        return None

    @staticmethod
    def _timm_heads(model: Model, whole: bool = True) -> list[Path] | None:
        """The modules `reset_classifier` puts in (`fc`, `head.fc`; distilled models have two): the
        architecture's classifier, or the module around it that its `reset_classifier` replaces whole
        (a MetaFormer MLP head, a LeViT `head`; only the classifier itself unless `whole`); None when the
        architecture is not written or unknown."""
        name = model.hub.name if model.hub is not None and model.hub.library == "timm" else None
        architecture = hk.timm_architecture(name) if name else None
        if architecture is None or architecture.head is None:
            return None
        heads = (architecture.head,) if isinstance(architecture.head, str) else architecture.head
        replaced = [tuple(path.split(".")) for path in architecture.reset or ()] if whole else []
        found: list[Path] = []
        for head in heads:
            path = tuple(head.split("."))
            path = next((outer for outer in replaced if path[: len(outer)] == outer), path)
            if path not in found:
                found.append(path)
        return found

    # --- transformers -------------------------------------------------------------------------------
    def _transformers_call(self, call: cst.Call, parts: list[str], args: list[object], frame: Frame) -> object:
        method = parts[-1] if len(parts) >= 2 and not parts[-1][:1].isupper() else None
        klass = parts[-2] if method else parts[-1]
        if method is None and klass in HF_OPTIMIZERS:
            return self._optimizer(call, klass, args, frame)
        if not hk.is_hf_model_class(klass) or method not in ("from_pretrained", "from_config", None):
            return UNHANDLED
        if method is None and klass.startswith("Auto"):
            return UNHANDLED  # Auto classes cannot be instantiated
        model = self._model(
            call, pretrained=method == "from_pretrained", library=True, hub=HubOrigin("transformers", klass),
        )
        self._event(EventKind.BUILD, call, frame, Ref(model))
        return Ref(model)

    def _hf_attribute(self, owner: Ref, attr: str) -> Ref | None:
        """`model.base_model` is the backbone attribute the class names (`bert`, `vit`): the same module."""
        if attr != "base_model":
            return None
        model = owner.model if not owner.path else self._hub_model_at(owner)
        hub = model.hub if model is not None else None
        if model is None or hub is None or hub.library != "transformers" or hub.adapters:
            return None
        known = hk.hf_classifier(hub.name) if hub.name else None
        return Ref(model, (known.backbone,)) if known is not None and known.backbone else None

    def _hub_model_at(self, ref: Ref) -> Model | None:
        """The hub model stored at `ref` inside another model (`self.backbone = timm.create_model(...)`)."""
        if not ref.path or ref.partial:
            return ref.model if not ref.path and ref.model.hub is not None else None
        where = ref.model.root(ref.path)
        for model in self.models:
            if model.hub is not None and model.home is not None:
                root, path = model.root()
                if root is where[0] and path == where[1]:
                    return model
        return None

    # --- PEFT ---------------------------------------------------------------------------------------
    def _peft_call(self, call: cst.Call, parts: list[str], args: list[object], frame: Frame) -> object:
        last = parts[-1]
        if last == "get_peft_model":
            return self._wrap(call, args, frame, trainable=True)
        if last == "from_pretrained" and len(parts) >= 2 and parts[-2].startswith(("PeftModel", "AutoPeftModel")):
            flag = calls.keyword(call, "is_trainable")
            trainable = calls.bool_literal(flag.value) if flag is not None else False
            return self._wrap(call, args, frame, trainable=trainable)
        if last == "prepare_model_for_kbit_training":
            # Freezes the base (and may enable input gradients): recorded as a change of unknown extent.
            return self._wrap(call, args, frame, trainable=None, adapters=False)
        return UNHANDLED

    def _wrap(
        self, call: cst.Call, args: list[object], frame: Frame, trainable: bool | None, adapters: bool = True,
    ) -> Ref:
        """The model PEFT returns: the one given (its paths reach the same modules through PEFT's attribute
        forwarding), or a new model when the one given is unknown; PEFT's own setting of `requires_grad` is a
        whole-model change: all frozen (`trainable` False), or unknown which parts train."""
        _, base = self._arg(call, args, 0, "model")
        if isinstance(base, Ref) and base.model.wrapped is None:
            ref = base
            if adapters and not base.path:
                known = base.model.hub or HubOrigin("peft")
                base.model.hub = HubOrigin(known.library, known.name, adapters=True)
        else:
            ref = Ref(self._model(call, library=True, hub=HubOrigin("peft", None, adapters=adapters)))
        self._event(EventKind.FREEZE, call, frame, Ref(ref.model, ref.path), value=False if trainable is False else None)
        return ref

    def _peft_method(self, call: cst.Call, ref: Ref, method: str, frame: Frame) -> object:
        if method in _UNWRAPPING:
            return ref
        if method in _ADAPTER_SWITCHES:
            self._event(EventKind.FREEZE, call, frame, Ref(ref.model), value=None)
            return None
        return UNHANDLED

    def _hub_method(self, call: cst.Call, ref: Ref, method: str, args: list[object], frame: Frame) -> object:
        """A method of a timm or PEFT model the story knows; UNHANDLED for the others."""
        if method not in _HUB_METHODS:
            return UNHANDLED
        if ref.path or ref.model.hub is None:
            inner = self._hub_model_at(ref)
            if inner is None:
                return UNHANDLED
            ref = Ref(inner)
        hub = ref.model.hub
        assert hub is not None
        if hub.adapters:
            handled = self._peft_method(call, ref, method, frame)
            if handled is not UNHANDLED:
                return handled
        if hub.library == "timm":
            return self._timm_method(call, ref, method, args, frame)
        return UNHANDLED
