"""Library functions called by their qualified name: what torchvision builders (timm, transformers and PEFT
in :mod:`.hub_calls`), `torch.optim`
optimizers (their param groups and what each holds), DataParallel wrappers, `nn.Sequential` of models,
`torch.nn` layers and losses, `torch.nn.init`, and the builtins that filter, copy or consume parameters do.
Any other call that receives a model, an optimizer or parameters is an escape."""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.story import EventKind, Group, Optimizer, Params
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.hub_calls import HUB_LIBRARIES
from featlint.analysis.story_interpreter.lightning import is_trainer
from featlint.analysis.story_interpreter.recorder import Recorder, code_mentions
from featlint.analysis.story_interpreter.values import (
    UNHANDLED,
    Constant,
    Criterion,
    DictValue,
    Enumerated,
    Layer,
    LightningTrainer,
    ModuleIter,
    MultiParams,
    ParamList,
    ParamsValue,
    ParamVar,
    Ref,
    Tensor,
    TupleValue,
    as_params,
)
from featlint.startup.deferred import cst

_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")
_WRAPPERS = frozenset({
    "torch.nn.DataParallel", "torch.nn.parallel.DataParallel", "torch.nn.parallel.DistributedDataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel", "torch.nn.parallel.data_parallel.DataParallel",
})
_CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.sorted", "builtins.sum",
                        "builtins.any", "builtins.all", "builtins.max", "builtins.min", "builtins.dict"})
_COPIES = frozenset({"builtins.list", "builtins.tuple", "builtins.sorted"})
# Functions that may receive a model without changing what trains or what the optimizer holds.
_HARMLESS = frozenset({
    "builtins.print", "builtins.len", "builtins.isinstance", "builtins.type", "builtins.id", "builtins.repr",
    "builtins.str", "builtins.hasattr", "builtins.getattr", "builtins.format", "torch.save", "torch.onnx.export",
    "torchinfo.summary", "torchsummary.summary", "copy.deepcopy",
})
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# Layer classes (and prefixes of families) that hold no parameters.
_PARAMETERLESS = (
    "Identity", "Dropout", "AlphaDropout", "FeatureAlphaDropout", "ReLU", "LeakyReLU", "GELU", "SiLU", "Sigmoid",
    "Tanh", "Softmax", "LogSoftmax", "Softplus", "Flatten", "Unflatten", "AdaptiveAvgPool", "AdaptiveMaxPool",
    "AvgPool", "MaxPool", "LPPool", "Hardswish", "Hardsigmoid", "Hardtanh", "Mish", "ELU", "SELU", "CELU",
    "Upsample", "ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "PixelShuffle", "ChannelShuffle",
)
_LOSS_FUNCTIONS = frozenset({"cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                             "kl_div", "margin_ranking_loss", "triplet_margin_loss"})


class LibraryCalls(Recorder):
    def _named_call(self, call: cst.Call, name: str, args: list[object], frame: Frame) -> object:
        built = calls.model_call(self.names, call, frame.scope)
        if built is None and name == "torch.hub.load":
            built = calls.vision_hub_call(call)  # a torchvision before the weights API still builds a model
        if built is not None:
            model = self._model(
                call, builder=built.builder, pretrained=self._pretrained(call, built, args, frame), library=True
            )
            self._event(EventKind.BUILD, call, frame, Ref(model))
            return Ref(model)
        if is_trainer(name):
            self._escape(call, args, frame)
            return LightningTrainer(call)
        if name.startswith(HUB_LIBRARIES):
            handled = self._hub_call(call, name, args, frame)
            if handled is not UNHANDLED:
                return handled
        if name.startswith("torch.optim.") and not name.startswith(_NOT_OPTIMIZERS):
            klass = name.rsplit(".", 1)[-1]
            if klass[:1].isupper() and klass != "Optimizer":
                return self._optimizer(call, klass, args, frame)
        if name in _WRAPPERS:
            inner = args[0] if args else None
            if isinstance(inner, Ref) and not inner.path:
                wrapper = self._model(call, wrapped=inner.model)
                return Ref(wrapper)
            return None
        if name.startswith("torch.nn.init."):
            for value in args[:1]:
                target = value.params if isinstance(value, ParamVar) else value
                if isinstance(target, Params):
                    self._event(EventKind.INIT, call, frame, Ref(target.model, target.path), partial=True)
                elif isinstance(target, Ref):
                    self._event(EventKind.INIT, call, frame, target, partial=target.partial)
            return None
        containers = ("torch.nn.Sequential", "torch.nn.ModuleList")
        if name in containers and any(isinstance(a, (Ref, ModuleIter)) for a in args):
            # Models, parts of one (`vgg.features`) or its children cut (`*list(m.children())[:-1]`) go inside:
            # their freezes and weights travel with them, found at (index, ...) in the container.
            container = self._model(call)
            for index, value in enumerate(args):
                inner = value.ref if isinstance(value, ModuleIter) else value
                if isinstance(inner, Ref) and inner.model.home is None and inner.model.wrapped is None:
                    inner.model.home = (container, (str(index),))
            return Ref(container)
        if name.startswith("torch.nn.functional."):
            short = name.rsplit(".", 1)[-1]
            return Tensor("loss" in short or short in _LOSS_FUNCTIONS, frame.no_grad)
        if self.values.is_layer_name(name):
            short = name.rsplit(".", 1)[-1]
            if short.endswith("Loss"):
                return Criterion(call)
            if short in _CONTAINERS:
                params = not args or any(not (isinstance(a, Layer) and not a.params) for a in args)
            else:
                params = not short.startswith(_PARAMETERLESS)
            return Layer(call, on_device=calls.keyword(call, "device") is not None, params=params)
        if name == "builtins.filter" and len(args) == 2 and isinstance(args[1], ParamsValue):
            source = args[1]
            filtered = code_mentions(self.module, call.args[0].value, "requires_grad")
            params = dataclasses.replace(
                source.params, filtered=source.params.filtered or filtered,
                partial=source.params.partial or not filtered, node=call,
            )
            return ParamsValue(params, generator=True, named=source.named)
        if name in _CONSUMERS and args:
            first = args[0]
            if isinstance(first, ParamsValue):
                if first.generator:
                    self._consume(first, call)
                if name in _COPIES:
                    return ParamsValue(first.params, generator=False, named=first.named)
                return None
            if isinstance(first, ModuleIter) and name in _COPIES:
                return first
            return None
        if name == "builtins.enumerate" and args:
            return Enumerated(args[0])
        if name in ("itertools.chain",):
            parts = [as_params(a) for a in args]
            if parts and all(p is not None for p in parts):
                return MultiParams(tuple(item for p in parts for item in p))  # type: ignore[union-attr]
            return None
        if name in _HARMLESS or name.startswith(("builtins.", "logging.", "math.", "numpy.")):
            return None
        self._escape(call, args, frame)
        return None

    def _pretrained(self, call: cst.Call, built: calls.ModelCall, args: list[object], frame: Frame) -> bool | None:
        weights = calls.keyword(call, "weights")
        legacy = calls.keyword(call, "pretrained")
        chosen = weights.value if weights is not None else legacy.value if legacy is not None else None
        if chosen is None:
            if any(arg.star for arg in call.args):
                return None
            positional = [a for a in call.args if a.keyword is None]
            first_bool = calls.bool_literal(positional[0].value) if positional and not built.by_string else None
            return first_bool if first_bool is not None else False
        value = next((v for a, v in zip(call.args, args) if a.value is chosen), None)
        return self._weights_requested(chosen, value, frame)

    def _weights_requested(self, chosen: cst.BaseExpression, value: object, frame: Frame) -> bool | None:
        """Whether `weights=`/`pretrained=` asks for pretrained weights: written as a literal, held in a constant
        (`pretrained=use_pretrained`), or chosen by a test the file decides (`W.DEFAULT if pretrained else None`)."""
        if isinstance(value, Constant):
            return value.value is not None and value.value is not False
        if isinstance(chosen, cst.IfExp):
            decision = self._decide(chosen.test, frame)
            if decision is not None:
                branch = chosen.body if decision[0] else chosen.orelse
                return self._weights_requested(branch, self._eval(branch, frame), frame)
            return None
        if calls.is_none(chosen) or calls.bool_literal(chosen) is False:
            return False
        if calls.bool_literal(chosen) is True or isinstance(chosen, (cst.SimpleString, cst.Attribute)):
            return True
        return None

    def _optimizer(self, call: cst.Call, klass: str, args: list[object], frame: Frame) -> Optimizer:
        params_node, params_value = self._arg(call, args, 0, "params")
        lr_node, _ = self._arg(call, args, 1, "lr")
        groups = self._groups(params_node, params_value, lr_node, call, frame)
        optimizer = Optimizer(call, klass, groups, frame.scope)
        self.optimizers.append(optimizer)
        self._event(EventKind.OPTIMIZER, call, frame, optimizer=optimizer)
        return optimizer

    def _groups(
        self, node: cst.BaseExpression | None, value: object, lr: cst.BaseExpression | None, owner: cst.CSTNode,
        frame: Frame,
    ) -> list[Group]:
        if node is None:
            return [Group(None, lr, owner)]
        if isinstance(value, DictValue):
            params = next(((n, v) for key, n, v in value.items if key == "params"), (None, None))
            group_lr = next((n for key, n, _ in value.items if key == "lr"), lr)
            return [Group(self._held(params[0], params[1], frame), group_lr, node)]
        if isinstance(value, TupleValue) and any(isinstance(item, DictValue) for item in value.items):
            # Written in place, each group has its own element; held in a variable (`optim_groups = [...]`,
            # built elsewhere), the groups are reported at the argument that names them.
            written = isinstance(node, (cst.List, cst.Tuple)) and len(node.elements) == len(value.items)
            elements = [e.value for e in node.elements] if written else [node] * len(value.items)
            groups: list[Group] = []
            for element, item in zip(elements, value.items):
                groups.extend(self._groups(element, item, lr, element, frame))
            return groups
        return [Group(self._held(node, value, frame), lr, node)]

    def _held(self, node: cst.BaseExpression | None, value: object, frame: Frame) -> tuple[Params, ...] | None:
        if isinstance(value, ParamList):
            return None if value.unknown or not value.items else tuple(value.items)
        parts = as_params(value)
        if parts is None:
            return None
        for part in parts:
            if part.generator and part.consumed is not None and node is not None:
                self._event(EventKind.EXHAUSTED, node, frame, Ref(part.params.model), related=part.consumed)
            if part.generator:
                self._consume(part, node or part.params.node or cst.Name("_"))
        return tuple(p.params for p in parts)
