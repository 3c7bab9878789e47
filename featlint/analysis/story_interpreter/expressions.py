"""Expressions: names, attributes and subscripts of models (paths inside them), comprehensions over
parameters, and calls, dispatched to the file's own functions (:mod:`.invocations`), to methods of a known
value (:mod:`.methods`) or to a library function by its qualified name (:mod:`.library_calls`). A value
handed to code the file does not show escapes."""

from __future__ import annotations

import dataclasses

from featlint.analysis import calls
from featlint.analysis.scopes import method_of
from featlint.analysis.story import EventKind, Optimizer
from featlint.analysis.story_interpreter.frame import Frame
from featlint.analysis.story_interpreter.recorder import Recorder, code_mentions
from featlint.analysis.story_interpreter.values import (
    PARAM_ATTRIBUTES,
    UNHANDLED,
    Constant,
    Criterion,
    DictValue,
    FunctionRef,
    ModuleIter,
    ModuleVar,
    MultiParams,
    Namespace,
    ParamList,
    ParamsValue,
    ParamVar,
    ParsedArguments,
    Ref,
    Tensor,
    TupleValue,
    as_params,
    literal_index,
)
from featlint.startup.deferred import cst

# Qualified names that are never the project's own modules: no file lookup for them.
_NOT_PROJECT = ("builtins.", "torch.", "torchvision.", "timm.", "numpy.", "os.", "sys.", "math.", "random.")


class Expressions(Recorder):
    def _eval(self, expr: cst.BaseExpression | None, frame: Frame) -> object:
        if expr is None:
            return None
        if isinstance(expr, cst.Name):
            return self._lookup(expr.value, frame)
        if isinstance(expr, (cst.SimpleString, cst.Integer, cst.Float)):
            written = calls.literal(expr)
            return Constant(written[0]) if written is not None else None
        if isinstance(expr, cst.Attribute):
            owner = self._eval(expr.value, frame)
            parsed = isinstance(owner, ParsedArguments) or (
                owner is None and isinstance(expr.value, cst.Name)
                and self.values.is_parsed_arguments(expr.value, frame.scope)
            )
            if parsed:
                dest = expr.attr.value
                overridden = {dest, "*"} & self._assigned_attributes()
                default = None if overridden else self.values.argparse_literal(dest)
                if default is not None:
                    return Constant(default[0], self.module.code_for_node(expr), default=True)
            return self._attribute(owner, expr.attr.value)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, frame)
        if isinstance(expr, cst.Call):
            return self._call(expr, frame)
        if isinstance(expr, (cst.Tuple, cst.List)):
            items = tuple(self._eval(e.value, frame) for e in expr.elements)
            if isinstance(expr, cst.List) and not items:
                return ParamList()
            return TupleValue(items)
        if isinstance(expr, cst.Dict):
            entries = []
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    key = calls.string_literal(element.key)
                    entries.append((key or "", element.value, self._eval(element.value, frame)))
            return DictValue(tuple(entries))
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self._comprehension(expr, frame)
        if isinstance(expr, cst.BinaryOperation):
            left, right = self._eval(expr.left, frame), self._eval(expr.right, frame)
            if isinstance(left, Tensor) or isinstance(right, Tensor):
                grad_disabled = any(isinstance(v, Tensor) and v.grad_disabled for v in (left, right)) or frame.no_grad
                return Tensor(any(isinstance(v, Tensor) and v.loss for v in (left, right)), grad_disabled)
            if isinstance(expr.operator, cst.Add):
                parts = [as_params(v) for v in (left, right)]
                if all(p is not None for p in parts):
                    return MultiParams(tuple(item for p in parts for item in p))  # type: ignore[union-attr]
            return None
        if isinstance(expr, cst.IfExp):
            decision = self._decide(expr.test, frame)  # evaluates the test once
            if decision is not None:
                return self._eval(expr.body if decision[0] else expr.orelse, frame)
            self._eval(expr.body, frame)
            self._eval(expr.orelse, frame)
            return None
        if isinstance(expr, (cst.BooleanOperation, cst.Comparison, cst.UnaryOperation, cst.FormattedString)):
            for child in expr.children:
                if isinstance(child, cst.BaseExpression):
                    self._eval(child, frame)
            return None
        if isinstance(expr, cst.NamedExpr):
            value = self._eval(expr.value, frame)
            self._assign(expr.target, value, expr.value, frame)
            return value
        if isinstance(expr, cst.Await):
            return self._eval(expr.expression, frame)
        return None

    def _assigned_attributes(self) -> set[str]:
        """Attribute names the file assigns on anything (`args.pretrained = True`): an argparse default of that
        name may be overridden, so it is no constant; "*" when `setattr`, `vars()` or `__dict__` may set any."""
        if self._overridden is None:
            self._overridden = {
                store.target.attr.value for store in self.facts.attribute_stores
                if isinstance(store.target, cst.Attribute)
            }
            if any(_sets_any_attribute(site.node) for site in self.facts.calls):
                self._overridden.add("*")
        return self._overridden

    def _lookup(self, name: str, frame: Frame) -> object:
        if name in frame.env:
            return frame.env[name]
        if name in ("True", "False", "None"):
            return Constant({"True": True, "False": False, "None": None}[name])
        if frame.scope.kind != "module" and name not in frame.scope.bindings:
            if name in self.module_frame.env:
                return self.module_frame.env[name]
        bindings = frame.scope.lookup(name)
        if len(bindings) == 1 and isinstance(bindings[0].node, (cst.FunctionDef, cst.ClassDef)):
            return FunctionRef(bindings[0].node)
        return None

    def _attribute(self, owner: object, attr: str) -> object:
        if isinstance(owner, Ref):
            if owner.model.wrapped is not None:
                return Ref(owner.model.wrapped, owner.path) if attr == "module" and not owner.path else None
            backbone = self._hf_attribute(owner, attr)
            if backbone is not None:
                return backbone
            if owner.model.user_class is not None and not owner.path:
                method = method_of(owner.model.user_class, attr)
                if method is not None:
                    return FunctionRef(method, owner)
            return Ref(owner.model, (*owner.path, attr), owner.partial)
        if isinstance(owner, Namespace):
            if attr in owner.attrs:
                return owner.attrs[attr]
            method = method_of(owner.cls, attr)
            return FunctionRef(method, owner) if method is not None else None
        if isinstance(owner, ModuleVar) and attr in PARAM_ATTRIBUTES:
            return Ref(owner.ref.model, owner.ref.path, partial=True)
        return None

    def _subscript(self, expr: cst.Subscript, frame: Frame) -> object:
        owner = self._eval(expr.value, frame)
        for element in expr.slice:
            if isinstance(element.slice, cst.Index):
                self._eval(element.slice.value, frame)
        index = literal_index(expr)
        sliced = len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice)
        if isinstance(owner, Ref):
            if owner.model.wrapped is not None:
                return None
            if index is not None:
                return Ref(owner.model, (*owner.path, index), owner.partial)
            return Ref(owner.model, owner.path, partial=True)
        if isinstance(owner, ModuleIter) and sliced:
            return ModuleIter(Ref(owner.ref.model, owner.ref.path, partial=True), owner.named)
        if isinstance(owner, ModuleIter):
            return Ref(owner.ref.model, owner.ref.path, partial=True)
        if isinstance(owner, ParamsValue) and sliced:
            return ParamsValue(dataclasses.replace(owner.params, partial=True), generator=False, named=owner.named)
        if isinstance(owner, ParamsValue) and not owner.generator and index is not None:
            # One parameter of a list of them (`list(model.named_parameters())[0]`): part of the module.
            one = ParamVar(dataclasses.replace(owner.params, partial=True), len(frame.tests))
            return TupleValue((None, one)) if owner.named else one
        if isinstance(owner, TupleValue) and index is not None and index.lstrip("-").isdigit():
            position = int(index)
            if -len(owner.items) <= position < len(owner.items):
                return owner.items[position]
        if isinstance(owner, DictValue) and index is not None:
            return next((value for key, _, value in owner.items if key == index), None)
        return None

    def _comprehension(self, expr: cst.ListComp | cst.GeneratorExp | cst.SetComp, frame: Frame) -> object:
        source = self._eval(expr.for_in.iter, frame)
        if isinstance(source, ParamsValue) and source.generator:
            self._consume(source, expr.for_in.iter)
        if not isinstance(source, ParamsValue) or expr.for_in.inner_for_in is not None:
            return None
        conditions = list(expr.for_in.ifs)
        filtered = any(code_mentions(self.module, c.test, "requires_grad") for c in conditions)
        other = [c.test for c in conditions if not code_mentions(self.module, c.test, "requires_grad")]
        params = dataclasses.replace(
            source.params, filtered=source.params.filtered or filtered,
            partial=source.params.partial or bool(other), node=expr,
            selector=other[0] if other else source.params.selector,
        )
        return ParamsValue(params, generator=isinstance(expr, cst.GeneratorExp))

    def _consume(self, value: ParamsValue, node: cst.CSTNode) -> None:
        if value.consumed is None:
            value.consumed = node

    def _call(self, call: cst.Call, frame: Frame) -> object:
        discarded = self._discarded is call
        self._discarded = None
        func = call.func
        if isinstance(func, cst.Attribute):
            receiver = self._eval(func.value, frame)
            bound = self._attribute(receiver, func.attr.value) if isinstance(receiver, (Ref, Namespace)) else None
            args = self._args(call, frame)
            if isinstance(bound, FunctionRef):
                return self._invoke(bound, call, args, frame)
            handled = self._method(call, receiver, func.attr.value, args, frame, discarded)
            if handled is not UNHANDLED:
                return handled
        else:
            callee = self._eval(func, frame)
            args = self._args(call, frame)
            if isinstance(callee, FunctionRef):
                return self._invoke(callee, call, args, frame)
            if isinstance(callee, (Criterion, Ref)):
                return Tensor(isinstance(callee, Criterion), frame.no_grad)
        name = self.names.call_name(call, frame.scope)
        target = self._project_target(name, func, frame)
        if target is not None:  # a function or class of another module of the project
            return self._invoke(target, call, args, frame)
        if name is not None:
            return self._named_call(call, name, args, frame)
        self._escape(call, args, frame)
        return None

    def _project_target(self, name: str | None, func: cst.BaseExpression, frame: Frame) -> FunctionRef | None:
        """The project's own function or class a call names: through an import, or a name nothing in the file
        binds that one of its `from module import *` brings in."""
        if self.project is None:
            return None
        if name is not None:
            candidates = [] if name.startswith(_NOT_PROJECT) else [name]
        elif isinstance(func, cst.Name) and not frame.scope.lookup(func.value):
            candidates = [f"{module}.{func.value}" for module in self.facts.star_imports]
        else:
            candidates = []
        for candidate in candidates:
            target = self.project.target(candidate, self._unit)
            if target is not None:
                return FunctionRef(target[1])
        return None

    def _args(self, call: cst.Call, frame: Frame) -> list[object]:
        return [self._eval(arg.value, frame) for arg in call.args]

    def _arg(self, call: cst.Call, args: list[object], index: int, keyword: str) -> tuple[cst.BaseExpression | None, object]:
        for position, arg in enumerate(call.args):
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value, args[position]
        positional = [(a.value, v) for a, v in zip(call.args, args) if a.keyword is None and not a.star]
        return positional[index] if len(positional) > index else (None, None)

    def _escape(self, call: cst.Call, args: list[object], frame: Frame) -> None:
        for value in args:
            self._escape_value(call, value, frame)

    def _escape_value(self, node: cst.CSTNode, value: object, frame: Frame) -> None:
        if isinstance(value, Ref):
            self._event(EventKind.ESCAPE, node, frame, Ref(value.model))
        elif isinstance(value, Optimizer):
            self._event(EventKind.ESCAPE, node, frame, optimizer=value)
        elif isinstance(value, ParamsValue):
            self._event(EventKind.ESCAPE, node, frame, Ref(value.params.model))


def _sets_any_attribute(call: cst.Call) -> bool:
    """`setattr(...)`, `vars(...)`, `x.__dict__.update(...)`: may set any attribute of an object."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value in ("setattr", "vars")
    owner = func.value if isinstance(func, cst.Attribute) else None
    return isinstance(owner, cst.Attribute) and owner.attr.value == "__dict__"
