"""Assignments: names and tuples bound, `requires_grad` set (a freeze or an unfreeze, whole or selected), a
layer or a model stored into a model (a replaced head, or a submodel that continues as a path of its owner)."""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.scopes import element_of
from featlint.analysis.story import EventKind, Model, Params
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder
from featlint.analysis.story_interpreter.values import (
    PARAM_ATTRIBUTES,
    Constant,
    Layer,
    Namespace,
    ParamVar,
    Ref,
    Tensor,
    TupleValue,
    literal_index,
    named_loss,
)
from featlint.startup.deferred import cst


class Assignments(Recorder):
    def _assign(self, target: cst.BaseExpression, value: object, value_node: cst.BaseExpression | None, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            if isinstance(value, Constant) and value.label is None:
                value = dataclasses.replace(value, label=target.value)  # named where the script names it
            frame.env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if isinstance(value, TupleValue) and len(value.items) == len(target.elements) else None
            for index, element in enumerate(target.elements):
                part = items[index] if items is not None else None
                inner = element_of(value_node, (index,))
                self._assign(element.value, part, inner, frame)
        elif isinstance(target, cst.Attribute):
            self._store(target, target.value, target.attr.value, value, value_node, frame)
        elif isinstance(target, cst.Subscript):
            index = literal_index(target)
            if index is not None:
                self._store(target, target.value, index, value, value_node, frame)

    def _store(
        self, target: cst.BaseExpression, owner_node: cst.BaseExpression, attr: str, value: object,
        value_node: cst.BaseExpression | None, frame: Frame,
    ) -> None:
        owner = self._eval(owner_node, frame)
        if attr == "requires_grad":
            self._requires_grad(target, owner, owner_node, calls.bool_literal(value_node), frame)
            return
        if isinstance(owner, Namespace):
            owner.attrs[attr] = value
            return
        if not isinstance(owner, Ref) or value_node is None:
            return
        is_model = isinstance(value, Ref) and value.path == ()
        if not (isinstance(value, Layer) or is_model):
            return
        if owner.model.wrapped is not None:
            if not owner.model.maybe_wrapper:  # else a head on one path, a lost assignment on the other
                self._event(EventKind.WRAPPER_ASSIGN, target, frame, owner, layer=value_node)
            return
        path = (*owner.path, attr)
        fresh = (isinstance(value, Layer) and value.params) or (is_model and self._own_design(value.model))
        constructed = owner.model.user_class is not None and not owner.path and frame.scope.owner_class is not None
        self._event(
            EventKind.HEAD, target, frame, Ref(owner.model, path), layer=value_node,
            on_device=isinstance(value, Layer) and value.on_device, fresh=fresh, has_params=fresh or is_model,
            constructed=constructed,
        )
        if isinstance(value, Ref) and value.model is not owner.model and value.model.home is None:
            value.model.home = (owner.model, path)

    def _own_design(self, model: Model) -> bool:
        """An instance of the user's own module with no library model inside: randomly initialised, like a layer."""
        return model.user_class is not None and not any(
            other.library and other.root()[0] is model for other in self.models
        )

    def _requires_grad(
        self, node: cst.CSTNode, owner: object, owner_node: cst.BaseExpression, flag: bool | None, frame: Frame
    ) -> None:
        if isinstance(owner, ParamVar):
            self._freeze_params(node, owner.params, owner.depth, flag, frame)
            if isinstance(owner_node, cst.Name):
                frame.env[owner_node.value] = dataclasses.replace(owner, enabled=flag is True)
        elif isinstance(owner, Ref) and owner.path and owner.path[-1] in PARAM_ATTRIBUTES:
            self._event(EventKind.FREEZE, node, frame, owner, value=flag, partial=owner.partial)
        elif isinstance(owner, Tensor) and owner.loss:
            self._event(EventKind.LOSS_PATCH, node, frame)
        elif (owner is None or isinstance(owner, (Tensor, Constant))) and named_loss(owner_node):
            self._event(EventKind.LOSS_PATCH, node, frame)

    def _freeze_params(self, node: cst.CSTNode, params: Params, depth: int, flag: bool | None, frame: Frame) -> None:
        conditions = frame.tests[depth:]
        selector = next((t for t in reversed(conditions) if t is not None), None) or params.selector
        # Conditions inside the loop select parameters (a partial freeze); only those around it may not run.
        self._event(
            EventKind.FREEZE, node, frame, Ref(params.model, params.path), value=flag,
            partial=params.partial or bool(conditions), selector=selector,
            conditional=frame.inherited_condition or bool(frame.tests[:depth]), condition_depth=depth,
        )
