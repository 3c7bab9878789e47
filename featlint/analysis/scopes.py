"""One pass over a module that records what every rule later queries: scopes, bindings and the statements
that matter to training code (calls, attribute stores).

libcst's ScopeProvider and QualifiedNameProvider answer the same questions but cost about four times the
parse itself on large files; linting needs far less than they compute, so this collector keeps only what the
rules and the value analysis read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Literal

from featlint.startup.deferred import cst

ScopeKind = Literal["module", "class", "function", "comprehension"]
BindingKind = Literal["import", "assign", "loop", "with", "param", "def", "class", "other"]


@dataclasses.dataclass(eq=False)
class Scope:
    kind: ScopeKind
    node: cst.CSTNode
    parent: Scope | None
    bindings: dict[str, list[Binding]] = dataclasses.field(default_factory=dict)
    # For a method: the class it belongs to and the name of its first parameter (usually `self`).
    owner_class: cst.ClassDef | None = None
    self_name: str | None = None

    def add(self, binding: Binding) -> None:
        self.bindings.setdefault(binding.name, []).append(binding)

    def self_class(self, name: str) -> cst.ClassDef | None:
        """The class whose `self` this is, when `name` is the first parameter of one of its methods."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        if scope.kind == "function" and scope.owner_class is not None and name == scope.self_name:
            return scope.owner_class
        return None

    def lookup(self, name: str) -> list[Binding]:
        """Python's rule: the innermost scope that binds the name; class bodies are skipped from inside
        functions nested in them."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            if (first or scope.kind != "class") and name in scope.bindings:
                return scope.bindings[name]
            first = False
            scope = scope.parent
        return []


@dataclasses.dataclass(eq=False)
class Binding:
    """A name bound in a scope. For `a, b = f()` the binding of `b` has value `f()` and element `(1,)`;
    for `for p in model.parameters()` it has value `model.parameters()` and `iterates=True`."""

    name: str
    kind: BindingKind
    scope: Scope
    node: cst.CSTNode
    value: cst.BaseExpression | None = None
    element: tuple[int, ...] = ()
    iterates: bool = False
    qualified: str | None = None  # imports only
    statement: cst.CSTNode | None = None  # the import statement, for fixes that add an import after it


@dataclasses.dataclass(eq=False)
class AttributeStore:
    """`target.attr = value` (also annotated, augmented and chained assignments); `target[i] = value` is kept
    apart, in `ModuleFacts.subscript_stores`."""

    target: cst.Attribute | cst.Subscript
    value: cst.BaseExpression | None
    statement: cst.BaseSmallStatement
    scope: Scope
    # The statement assigns only this target, with `=`, as a statement of its own: it can be rewritten whole.
    sole_target: bool


@dataclasses.dataclass(eq=False)
class CallSite:
    node: cst.Call
    scope: Scope


@dataclasses.dataclass(eq=False)
class ModuleFacts:
    module_scope: Scope
    calls: list[CallSite]
    attribute_stores: list[AttributeStore]
    # `self.<attr> = value` inside the methods of a class, by class node and attribute name.
    class_attributes: dict[cst.ClassDef, dict[str, list[Binding]]]
    classes: dict[str, list[cst.ClassDef]]
    star_imports: list[str]
    # The `return` statements of each function (not those of functions, classes or lambdas nested in it).
    returns: dict[cst.FunctionDef, list[cst.Return]] = dataclasses.field(default_factory=dict)
    # `target[index] = value`, as AttributeStore records (the target is the Subscript).
    subscript_stores: list[AttributeStore] = dataclasses.field(default_factory=list)
    # The scope each module, class, function, lambda and comprehension node opens.
    scopes: dict[cst.CSTNode, Scope] = dataclasses.field(default_factory=dict)
    _call_scopes: dict[int, Scope] | None = dataclasses.field(default=None, repr=False)

    def scope_of_call(self, call: cst.CSTNode) -> Scope | None:
        """The scope a call of the module is made in (indexed on the first question)."""
        if self._call_scopes is None:
            self._call_scopes = {id(site.node): site.scope for site in self.calls}
        return self._call_scopes.get(id(call))


def _target_names(target: cst.BaseExpression, path: tuple[int, ...] = ()) -> list[tuple[cst.Name, tuple[int, ...]]]:
    if isinstance(target, cst.Name):
        return [(target, path)]
    if isinstance(target, (cst.Tuple, cst.List)):
        found: list[tuple[cst.Name, tuple[int, ...]]] = []
        for index, element in enumerate(target.elements):
            if isinstance(element, cst.StarredElement):
                # Positions after a starred element are not fixed indexes: give up on the rest.
                found.extend((name, (-1,)) for name, _ in _target_names(element.value))
                continue
            found.extend(_target_names(element.value, (*path, index)))
        return found
    return []


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` as a string, for import statements and simple attribute chains."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


# Field names that never hold anything the collector reads: whitespace, comments and punctuation.
_SKIPPED_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "colon", "equal", "dot", "star", "operator", "header", "footer",
    "leading_lines", "lines_after_decorators", "newline", "lbracket", "rbracket", "lbrace", "rbrace",
    "asynchronous", "whitespace_after_at",
})
_PLANS: dict[type, tuple[tuple[str, ...], str, str]] = {}


def _plan(cls: type) -> tuple[tuple[str, ...], str, str]:
    plan = _PLANS.get(cls)
    if plan is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls)
            if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
        )
        plan = _PLANS[cls] = (names, f"visit_{cls.__name__}", f"leave_{cls.__name__}")
    return plan


def child_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The children of a node that can hold code (whitespace and punctuation skipped), in source order:
    for the analyses that need a walk of their own, run only on the files they concern."""
    for name in _plan(type(node))[0]:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (item for item in value if isinstance(item, cst.CSTNode))


def descendants(node: cst.CSTNode, stop: tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
    """`node` and every node under it, without entering nodes of the `stop` types (yielded, not entered);
    walked by hand like `_Collector`, since libcst's `children` visits and rebuilds every node."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        if current is not node and isinstance(current, stop):
            continue
        pending.extend(child_nodes(current))


class _Collector:
    """A visitor with libcst's `visit_<Node>`/`leave_<Node>` protocol, walked by hand: libcst's own
    `visit` rebuilds and re-validates every node on the way back up, which costs more than the parse."""

    def walk(self, node: cst.CSTNode) -> None:
        names, visit_name, leave_name = _plan(type(node))
        visit = getattr(self, visit_name, None)
        if visit is None or visit(node) is not False:
            for name in names:
                value = getattr(node, name)
                if isinstance(value, cst.CSTNode):
                    self.walk(value)
                elif isinstance(value, (tuple, list)):
                    for item in value:
                        if isinstance(item, cst.CSTNode):
                            self.walk(item)
        leave = getattr(self, leave_name, None)
        if leave is not None:
            leave(node)

    def __init__(self, module: cst.Module) -> None:
        self.scope = Scope("module", module, None)
        self.facts = ModuleFacts(self.scope, [], [], {}, {}, [])
        self.facts.scopes[module] = self.scope

    # --- scopes -------------------------------------------------------------------------------------
    def _push(self, kind: ScopeKind, node: cst.CSTNode) -> Scope:
        self.scope = Scope(kind, node, self.scope)
        self.facts.scopes[node] = self.scope
        return self.scope

    def _pop(self) -> None:
        assert self.scope.parent is not None, "left the module scope: scopes pushed and popped out of step"
        self.scope = self.scope.parent

    def _bind(self, name: str, kind: BindingKind, node: cst.CSTNode, **extra: object) -> None:
        self.scope.add(Binding(name, kind, self.scope, node, **extra))  # type: ignore[arg-type]

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name.value, "class", node)
        self.facts.classes.setdefault(node.name.value, []).append(node)
        self.facts.class_attributes.setdefault(node, {})
        self._push("class", node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._bind(node.name.value, "def", node)
        for decorator in node.decorators:
            self.walk(decorator)
        for param in (*node.params.params, *node.params.kwonly_params, *node.params.posonly_params):
            if param.default is not None:
                self.walk(param.default)
        owner = self.scope.node if self.scope.kind == "class" else None
        scope = self._push("function", node)
        if isinstance(owner, cst.ClassDef):
            scope.owner_class = owner
            positional = [*node.params.posonly_params, *node.params.params]
            if positional:
                scope.self_name = positional[0].name.value
        self._bind_params(node.params)
        self.walk(node.body)
        self._pop()
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self._push("function", node)
        self._bind_params(node.params)
        self.walk(node.body)
        self._pop()
        return False

    def _bind_params(self, params: cst.Parameters) -> None:
        every: list[cst.Param] = [*params.posonly_params, *params.params, *params.kwonly_params]
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                every.append(star)
        for param in every:
            self._bind(param.name.value, "param", param)

    def _visit_comprehension(self, node: cst.BaseComp) -> bool:
        # The first iterable is evaluated in the enclosing scope; everything else in the comprehension's own.
        first = node.for_in
        self.walk(first.iter)
        self._push("comprehension", node)
        comp: cst.CompFor | None = first
        while comp is not None:
            if comp is not first:
                self.walk(comp.iter)
            for name, path in _target_names(comp.target):
                self._bind(name.value, "loop", comp, value=comp.iter, element=path, iterates=True)
            for condition in comp.ifs:
                self.walk(condition)
            comp = comp.inner_for_in
        if isinstance(node, cst.DictComp):
            self.walk(node.key)
            self.walk(node.value)
        else:
            self.walk(node.elt)  # type: ignore[attr-defined]
        self._pop()
        return False

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    # --- statements ---------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value, "import", alias, qualified=full, statement=node)
            else:
                top = full.split(".")[0]
                self._bind(top, "import", alias, qualified=top, statement=node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        # A relative import keeps its dots (`from .models import build` is ".models.build"): no library name
        # starts with one, and the project's own modules are found from them (featlint.analysis.project).
        dots = "." * len(node.relative)
        module = dotted_name(node.module) if node.module is not None else ""
        if module is None or not (dots or module):
            return
        module = f"{dots}{module}" if module else dots[:-1]
        if isinstance(node.names, cst.ImportStar):
            if module:
                self.facts.star_imports.append(module)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self._bind(local, "import", alias, qualified=f"{module}.{name}", statement=node)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._assign_target(target.target, node.value, node, sole=len(node.targets) == 1)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._assign_target(node.target, node.value, node, sole=False)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Attribute):
            self._store_attribute(node.target, None, node, sole=False)

    def _assign_target(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        statement: cst.BaseSmallStatement,
        *,
        sole: bool,
    ) -> None:
        if isinstance(target, cst.Attribute):
            self._store_attribute(target, value, statement, sole=sole)
            return
        if isinstance(target, cst.Subscript):
            self.facts.subscript_stores.append(AttributeStore(target, value, statement, self.scope, sole))
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            for index, element in enumerate(target.elements):
                if isinstance(element.value, cst.Attribute):
                    inner = element_of(value, (index,))
                    self._store_attribute(element.value, inner, statement, sole=False)
        for name, path in _target_names(target):
            if path and path[-1] == -1:
                self._bind(name.value, "other", statement)
            else:
                self._bind(name.value, "assign", statement, value=value, element=path)

    def _store_attribute(
        self,
        target: cst.Attribute,
        value: cst.BaseExpression | None,
        statement: cst.BaseSmallStatement,
        *,
        sole: bool,
    ) -> None:
        self.facts.attribute_stores.append(AttributeStore(target, value, statement, self.scope, sole))
        method = self.scope
        if (
            method.kind == "function"
            and method.owner_class is not None
            and isinstance(target.value, cst.Name)
            and target.value.value == method.self_name
        ):
            attributes = self.facts.class_attributes[method.owner_class]
            attributes.setdefault(target.attr.value, []).append(
                Binding(target.attr.value, "assign", method, statement, value=value)
            )

    def visit_For(self, node: cst.For) -> None:
        for name, path in _target_names(node.target):
            self._bind(name.value, "loop", node, value=node.iter, element=path, iterates=True)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            for name, _ in _target_names(node.asname.name):
                self._bind(name.value, "with", node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if isinstance(node.target, cst.Name):
            self._bind(node.target.value, "assign", node, value=node.value)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and isinstance(node.name.name, cst.Name):
            self._bind(node.name.name.value, "other", node)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self._bind(item.name.value, "other", node)

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def visit_Del(self, node: cst.Del) -> None:
        for name, _ in _target_names(node.target):
            self._bind(name.value, "other", node)

    def visit_Return(self, node: cst.Return) -> None:
        if self.scope.kind == "function" and isinstance(self.scope.node, cst.FunctionDef):
            self.facts.returns.setdefault(self.scope.node, []).append(node)

    def visit_Call(self, node: cst.Call) -> None:
        self.facts.calls.append(CallSite(node, self.scope))


def method_of(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    """The method `name` defined in the body of `cls` itself (not inherited)."""
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return statement
    return None


def element_of(value: cst.BaseExpression | None, path: Sequence[int]) -> cst.BaseExpression | None:
    """The sub-expression of a tuple/list display at `path`, or None when the value is not a display."""
    for index in path:
        if not isinstance(value, (cst.Tuple, cst.List)) or index < 0 or index >= len(value.elements):
            return None
        element = value.elements[index]
        if isinstance(element, cst.StarredElement):
            return None
        value = element.value
    return value



def collect(module: cst.Module) -> ModuleFacts:
    collector = _Collector(module)
    collector.walk(module)
    return collector.facts
