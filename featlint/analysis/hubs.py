"""The model-hub objects of a file (Hugging Face models and configs, PEFT wraps and configs, timm models):
which call creates each, and which one an expression holds at a given statement (in the statement order of
`hub_order`). It is built only for files that name one of these libraries (rules declare the tokens), and it
answers UNKNOWN (None) whenever a binding is conditional or comes from code featlint cannot see. The freezes
the hub rules look for are in `hub_freezes`.
"""

from __future__ import annotations

import dataclasses
import enum

from featlint.analysis import hub_knowledge as hk
from featlint.analysis.calls import argument, bool_literal, keyword
from featlint.analysis.hub_order import StatementOrder, Step
from featlint.analysis.names import NameResolver
from featlint.analysis.scopes import ModuleFacts, Scope, child_nodes
from featlint.startup.deferred import cst

# Methods that return the module they are called on.
_SAME_OBJECT_METHODS = frozenset({"to", "cuda", "cpu", "train", "float", "half", "bfloat16", "double"})
_OPTIMIZER_PREFIXES = ("torch.optim.", "transformers.", "bitsandbytes.optim.")
_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")


class HubKind(enum.Enum):
    HF_MODEL = "a Hugging Face model"
    HF_CONFIG = "a Hugging Face configuration"
    PEFT_MODEL = "a PEFT model"
    PEFT_CONFIG = "a PEFT configuration"
    TIMM_MODEL = "a timm model"


@dataclasses.dataclass(eq=False)
class HubObject:
    kind: HubKind
    call: cst.Call  # the call that creates it
    step: Step
    library_class: str  # AutoModelForSequenceClassification, LoraConfig, PeftModel, AutoConfig, ...
    how: str  # from_pretrained, from_config, constructor, get_peft_model, create_model
    wrapped: HubObject | None = None  # get_peft_model / PeftModel.from_pretrained: the base model
    config: HubObject | None = None  # get_peft_model: the PEFT config; from_config: the HF config

    @property
    def classification_task(self) -> str | None:
        return hk.hf_classification_task(self.library_class) if self.kind is HubKind.HF_MODEL else None


class Hubs(StatementOrder):
    def __init__(self, module: cst.Module, facts: ModuleFacts, names: NameResolver) -> None:
        super().__init__(module, facts)
        self.names = names
        self._objects: dict[int, HubObject | None] = {}
        self.objects: list[HubObject] = []
        for site in facts.calls:
            found = self.created_by(site.node, site.scope)
            if found is not None and found.call is site.node:
                self.objects.append(found)

    # --- what an expression holds ----------------------------------------------------------------------
    def object_of(self, expr: cst.BaseExpression, scope: Scope, at: Step) -> HubObject | None:
        """The hub object `expr` holds when the statement at `at` runs; None when unknown."""
        if isinstance(expr, cst.Call):
            return self.created_by(expr, scope)
        if not isinstance(expr, cst.Name):
            return None
        binding = self.reaching(expr.value, scope, at)
        if binding is None or binding.kind != "assign" or binding.element or binding.value is None:
            return None
        bound_at = self.step(binding.node)
        return self.object_of(binding.value, binding.scope, bound_at) if bound_at is not None else None

    def created_by(self, call: cst.Call, scope: Scope) -> HubObject | None:
        if id(call) in self._objects:
            return self._objects[id(call)]
        self._objects[id(call)] = None  # a cycle through `m = m.to(d)` resolves to nothing
        found = self._create(call, scope)
        self._objects[id(call)] = found
        return found

    def _create(self, call: cst.Call, scope: Scope) -> HubObject | None:
        step = self.step(call)
        if step is None:
            return None
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _SAME_OBJECT_METHODS:
            inner = self.object_of(func.value, scope, step)
            if inner is not None and inner.kind in (HubKind.HF_MODEL, HubKind.PEFT_MODEL, HubKind.TIMM_MODEL):
                return inner
        name = self.names.call_name(call, scope)
        if name is None:
            return None
        library, _, rest = name.partition(".")
        parts = rest.split(".")
        if library == "transformers" and parts:
            return self._transformers(call, scope, step, parts)
        if library == "peft" and parts:
            return self._peft(call, scope, step, parts)
        if name == "timm.create_model":
            return HubObject(HubKind.TIMM_MODEL, call, step, "timm", "create_model")
        return None

    def _transformers(self, call: cst.Call, scope: Scope, step: Step, parts: list[str]) -> HubObject | None:
        method = parts[-1] if len(parts) >= 2 and not parts[-1][:1].isupper() else None
        klass = parts[-2] if method else parts[-1]
        if klass.endswith("Config") and method == "from_pretrained":
            return HubObject(HubKind.HF_CONFIG, call, step, klass, method)
        if not hk.is_hf_model_class(klass):
            return None
        if method in ("from_pretrained", "from_config"):
            config = None
            if method == "from_config":
                given = argument(call, 0, "config")
                config = self.object_of(given, scope, step) if given is not None else None
            return HubObject(HubKind.HF_MODEL, call, step, klass, method, config=config)
        if method is None and not klass.startswith("Auto"):
            given = argument(call, 0, "config")
            config = self.object_of(given, scope, step) if given is not None else None
            return HubObject(HubKind.HF_MODEL, call, step, klass, "constructor", config=config)
        return None

    def _peft(self, call: cst.Call, scope: Scope, step: Step, parts: list[str]) -> HubObject | None:
        last = parts[-1]
        if last == "get_peft_model":
            base, config = argument(call, 0, "model"), argument(call, 1, "peft_config")
            return HubObject(
                HubKind.PEFT_MODEL, call, step, "PeftModel", last,
                wrapped=self.object_of(base, scope, step) if base is not None else None,
                config=self.object_of(config, scope, step) if config is not None else None,
            )
        if last == "from_pretrained" and len(parts) >= 2 and "PeftModel" in parts[-2]:
            base = argument(call, 0, "model")
            return HubObject(HubKind.PEFT_MODEL, call, step, parts[-2], last,
                             wrapped=self.object_of(base, scope, step) if base is not None else None)
        if hk.is_peft_config_with_modules_to_save(last):
            return HubObject(HubKind.PEFT_CONFIG, call, step, last, "constructor")
        return None

    # --- questions rules ask -----------------------------------------------------------------------------
    def is_optimizer(self, call: cst.Call, scope: Scope) -> bool:
        """A torch.optim (or transformers / bitsandbytes) optimizer class is constructed here."""
        name = self.names.call_name(call, scope)
        if name is None or not name.startswith(_OPTIMIZER_PREFIXES) or name.startswith(_NOT_OPTIMIZERS):
            return False
        last = name.rsplit(".", 1)[-1]
        if name.startswith("torch.optim."):
            return last[:1].isupper() and last != "Optimizer"
        return last in ("AdamW", "Adafactor") or name.startswith("bitsandbytes.optim.")

    def parameters_of(self, call: cst.Call) -> list[cst.Name]:
        """The names whose `.parameters()` / `.named_parameters()` the call's arguments read."""
        found: list[cst.Name] = []

        def visit(node: cst.CSTNode) -> None:
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                if node.func.attr.value in ("parameters", "named_parameters") and isinstance(node.func.value, cst.Name):
                    found.append(node.func.value)
            for child in child_nodes(node):
                visit(child)

        for arg in call.args:
            visit(arg.value)
        return found

    def peft_model_trainable(self, peft: HubObject) -> bool | None:
        """For `PeftModel.from_pretrained(...)`: whether `is_trainable=True` was passed (None: unknown)."""
        if any(arg.star for arg in peft.call.args):
            return None
        found = keyword(peft.call, "is_trainable")
        if found is None:
            return False
        return bool_literal(found.value)
