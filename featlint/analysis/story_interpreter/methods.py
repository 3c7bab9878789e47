"""Methods called on a known value: what `.parameters()`, `.requires_grad_()`, `.to(device)`, `.train()`/
`.eval()`, `.load_state_dict()` and `.apply(init)` do to a model (or to each child in a loop over
`children()`); `add_param_group` and `step` on an optimizer; `append`/`extend` on a list of parameters;
`backward` on a loss."""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.scopes import Scope
from featlint.analysis.story import EventKind, Optimizer, Params
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder, code_mentions
from featlint.analysis.story_interpreter.values import (
    UNHANDLED,
    FunctionRef,
    Layer,
    LightningTrainer,
    ModuleIter,
    ModuleVar,
    ParamList,
    ParamsValue,
    ParamVar,
    ParsedArguments,
    Ref,
    Tensor,
    TupleValue,
    as_params,
    named_loss,
)
from featlint.analysis.values import parses_command_line
from featlint.startup.deferred import cst

_RETURNS_SELF = frozenset({"half", "float", "double", "bfloat16", "type", "share_memory", "cpu"})
_TENSOR_METHODS = frozenset({"mean", "sum", "float", "double", "half", "squeeze", "to", "cuda", "clone"})
_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16", "half", "float", "double", "int8", "uint8",
                     "int16", "int32", "int64", "long", "bool", "complex64"})


class Methods(Recorder):
    def _method(
        self, call: cst.Call, receiver: object, method: str, args: list[object], frame: Frame, discarded: bool
    ) -> object:
        if isinstance(receiver, Ref):
            return self._model_method(call, receiver, method, args, frame, discarded)
        if isinstance(receiver, LightningTrainer) and method == "fit":
            self._fit(call, args, frame)
            return None
        if isinstance(receiver, Optimizer):
            if method == "add_param_group" and args:
                group = self._groups(call.args[0].value, args[0], None, call, frame)
                held = tuple(p for g in group for p in (g.params or ()))
                self._event(EventKind.ADD_GROUP, call, frame, optimizer=receiver, params=held)
            elif method == "step":
                self._event(EventKind.STEP, call, frame, optimizer=receiver)
            return None
        if isinstance(receiver, ParamVar) and method == "requires_grad_":
            flag = calls.bool_literal(call.args[0].value) if call.args else True
            self._freeze_params(call, receiver.params, receiver.depth, flag, frame)
            return None
        if isinstance(receiver, ModuleVar):
            # Every child (or module) in turn: together they cover the whole path unless sliced or selected.
            ref = Ref(receiver.ref.model, receiver.ref.path, partial=True)
            if method == "requires_grad_":
                flag = calls.bool_literal(call.args[0].value) if call.args else True
                params = Params(ref.model, ref.path, partial=receiver.ref.partial)
                self._freeze_params(call, params, receiver.depth, flag, frame)
                return None
            if method in ("parameters", "named_parameters"):
                selected = receiver.ref.partial or len(frame.tests) > receiver.depth
                params = Params(ref.model, ref.path, partial=selected, node=call)
                return ParamsValue(params, generator=True, named=method == "named_parameters")
            if method in ("train", "eval"):
                self._event(EventKind.MODE, call, frame, ref, value=method == "train", partial=True)
                return None
            if method == "apply":
                self._init_via_apply(call, ref, args, frame)
                return None
            return None
        if isinstance(receiver, Tensor):
            if method == "backward":
                self._event(EventKind.BACKWARD, call, frame, grad_disabled=receiver.grad_disabled)
                return None
            if method == "requires_grad_" and (receiver.loss or named_loss(call.func.value)):  # type: ignore[attr-defined]
                self._event(EventKind.LOSS_PATCH, call, frame)
                return None
            return receiver if method in _TENSOR_METHODS else None
        if isinstance(receiver, Layer) and method in ("to", "cuda"):
            return dataclasses.replace(receiver, on_device=True)
        if isinstance(receiver, ParamList):
            if method == "append" and args:
                item = args[0]
                if isinstance(item, ParamVar):
                    conditions = frame.tests[item.depth:]
                    filtered = any(code_mentions(self.module, c, "requires_grad") for c in conditions)
                    partial = any(c is None or not code_mentions(self.module, c, "requires_grad") for c in conditions)
                    receiver.items.append(dataclasses.replace(
                        item.params, filtered=item.params.filtered or filtered or item.enabled,
                        partial=item.params.partial or partial,
                    ))
                else:
                    receiver.unknown = True
            elif method in ("extend", "append"):
                parts = as_params(args[0]) if args else None
                if parts is None:
                    receiver.unknown = True
                else:
                    receiver.items.extend(p.params for p in parts)
            return None
        if method == "backward":
            self._event(EventKind.BACKWARD, call, frame)
            return None
        if method in ("parse_args", "parse_known_args") and receiver is None and parses_command_line(call):
            return ParsedArguments() if method == "parse_args" else TupleValue((ParsedArguments(), None))
        if method == "load_state_dict" and receiver is None:
            strict = calls.argument(call, 1, "strict")
            if strict is not None and calls.bool_literal(strict) is False:
                self._event(EventKind.LOAD, call, frame, strict=False, result_used=not discarded,
                            resume=call in self._resumed)
            return None
        if method == "requires_grad_" and isinstance(call.func, cst.Attribute) and named_loss(call.func.value):
            self._event(EventKind.LOSS_PATCH, call, frame)
            return None
        return UNHANDLED

    def _model_method(
        self, call: cst.Call, ref: Ref, method: str, args: list[object], frame: Frame, discarded: bool
    ) -> object:
        if ref.model.wrapped is not None and method != "load_state_dict":
            ref = Ref(ref.model.wrapped, ref.path, ref.partial)
        handled = self._hub_method(call, ref, method, args, frame)
        if handled is not UNHANDLED:
            return handled
        if method in ("parameters", "named_parameters"):
            params = Params(ref.model, ref.path, partial=ref.partial, node=call)
            return ParamsValue(params, generator=True, named=method == "named_parameters")
        if method in ("children", "modules", "named_children", "named_modules"):
            return ModuleIter(ref, named=method.startswith("named_"))
        if method == "requires_grad_":
            flag = calls.bool_literal(call.args[0].value) if call.args else True
            self._event(EventKind.FREEZE, call, frame, ref, value=flag, partial=ref.partial)
            return ref
        if method in ("to", "cuda"):
            if method == "cuda" or self._is_device_move(call, frame):
                self._event(EventKind.MOVE, call, frame, ref)
            return ref
        if method in ("train", "eval"):
            flag = True if method == "train" and not call.args else calls.bool_literal(call.args[0].value) if call.args else False
            self._event(EventKind.MODE, call, frame, ref, value=flag)
            return ref
        if method == "load_state_dict":
            strict_node = calls.argument(call, 1, "strict")
            strict = True if strict_node is None else calls.bool_literal(strict_node)
            self._event(EventKind.LOAD, call, frame, ref, strict=strict, result_used=not discarded,
                        resume=call in self._resumed)
            return None
        if method == "apply":
            self._init_via_apply(call, ref, args, frame)
            return ref
        if method in _RETURNS_SELF:
            return ref
        if ref.model.user_class is not None and not ref.path:
            return UNHANDLED
        return None

    def _is_device_move(self, call: cst.Call, frame: Frame) -> bool:
        target = calls.argument(call, 0, "device")
        if target is None:
            return False
        text = calls.string_literal(target)
        if text is not None:
            return not text.startswith("cpu")
        name = self.names.qualified_name(target, frame.scope) or ""
        if name.startswith("torch.") and name.split(".")[-1] in _DTYPES:
            return False
        if isinstance(target, cst.Call) and self.names.call_name(target, frame.scope) == "torch.device":
            text = calls.string_literal(calls.argument(target, 0, "type"))
            return text is None or not text.startswith("cpu")
        return True

    def _init_via_apply(self, call: cst.Call, ref: Ref, args: list[object], frame: Frame) -> None:
        function = args[0] if args else None
        if isinstance(function, FunctionRef) and self._initialises(function.node):
            self._event(EventKind.INIT, call, frame, ref, partial=ref.partial)

    def _initialises(self, node: cst.FunctionDef) -> bool:
        scope = self.facts.scopes.get(node)
        for site in self.facts.calls:
            if scope is not None and within(site.scope, scope):
                name = self.names.call_name(site.node, site.scope) or ""
                if name.startswith("torch.nn.init.") or name.endswith("reset_parameters"):
                    return True
        return False


def within(scope: Scope | None, ancestor: Scope) -> bool:
    while scope is not None:
        if scope is ancestor:
            return True
        scope = scope.parent
    return False
