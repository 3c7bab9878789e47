"""Qualified names of expressions, through imports, aliases and the dynamic lookups training scripts use.

`tvm.resnet18`, `resnet18` (from an import), `fn` after `fn = models.resnet18`, and
`getattr(models, "resnet18")` all resolve to ``torchvision.models.resnet18``; lookups whose member is only
known at run time (`models.__dict__[arch]`, `getattr(models, arch)`) resolve to ``torchvision.models.*``.
"""

from __future__ import annotations

import builtins

from featlint.analysis import torchvision as tv
from featlint.analysis.scopes import Binding, ModuleFacts, Scope
from featlint.startup.deferred import cst

DYNAMIC = "*"
_BUILTINS = frozenset(dir(builtins))


class NameResolver:
    def __init__(self, facts: ModuleFacts) -> None:
        self.facts = facts
        self._active: set[int] = set()
        # A name's bindings do not depend on where it is read (the scopes are flow-insensitive), so each name
        # is resolved once per scope: without this, `x = x.f` rebound n times took n! steps (9 took minutes).
        self._names: dict[tuple[str, int], str | None] = {}
        self._resolving: set[tuple[str, int]] = set()

    def qualified_name(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        if id(expr) in self._active:  # `x = x.y` and other self-references
            return None
        self._active.add(id(expr))
        try:
            return self._resolve(expr, scope)
        finally:
            self._active.discard(id(expr))

    def _resolve(self, expr: cst.BaseExpression, scope: Scope) -> str | None:
        if isinstance(expr, cst.Name):
            return self._resolve_name(expr.value, scope)
        if isinstance(expr, cst.Attribute):
            base = self.qualified_name(expr.value, scope)
            return f"{base}.{expr.attr.value}" if base and not base.endswith(DYNAMIC) else None
        if isinstance(expr, cst.Subscript):
            # `models.__dict__[arch]` / `vars(models)[arch]`
            container = expr.value
            if isinstance(container, cst.Attribute) and container.attr.value == "__dict__":
                return self._member(container.value, None, scope)
            if isinstance(container, cst.Call) and self.qualified_name(container.func, scope) == "builtins.vars":
                if len(container.args) == 1:
                    return self._member(container.args[0].value, None, scope)
            return None
        if isinstance(expr, cst.Call) and self.qualified_name(expr.func, scope) == "builtins.getattr":
            if len(expr.args) >= 2:
                member = expr.args[1].value
                literal = member.evaluated_value if isinstance(member, cst.SimpleString) else None
                return self._member(expr.args[0].value, literal if isinstance(literal, str) else None, scope)
        return None

    def _member(self, container: cst.BaseExpression, member: str | None, scope: Scope) -> str | None:
        base = self.qualified_name(container, scope)
        if base is None or base.endswith(DYNAMIC):
            return None
        return f"{base}.{member if member is not None else DYNAMIC}"

    def _resolve_name(self, name: str, scope: Scope) -> str | None:
        key = (name, id(scope))
        if key in self._names:
            return self._names[key]
        if key in self._resolving:  # `x = x.f`: the name's own bindings give no answer of their own
            return None
        self._resolving.add(key)
        try:
            found = self._names[key] = self._name_from_bindings(name, scope)
        finally:
            self._resolving.discard(key)
        return found

    def _name_from_bindings(self, name: str, scope: Scope) -> str | None:
        bindings = scope.lookup(name)
        if not bindings:
            if name in _BUILTINS:
                return f"builtins.{name}"
            for module in self.facts.star_imports:
                if tv.builder(f"{module}.{name}") is not None:
                    return f"{module}.{name}"
            return None
        imported = [binding for binding in bindings if binding.kind == "import"]
        if imported and all(binding.kind == "import" or _computed_from(binding, name) for binding in bindings):
            bindings = imported  # `transforms = transforms.Compose([...])`: the module, until the name is reused
        found = {self._binding_name(binding) for binding in bindings}
        if len(found) == 1:
            return found.pop()
        return None

    def _binding_name(self, binding: Binding) -> str | None:
        if binding.kind == "import":
            return binding.qualified
        if binding.kind == "assign" and not binding.element and binding.value is not None:
            if isinstance(binding.value, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
                return self.qualified_name(binding.value, binding.scope)
        return None

    def call_name(self, call: cst.Call, scope: Scope) -> str | None:
        return self.qualified_name(call.func, scope)


def _computed_from(binding: Binding, name: str) -> bool:
    """The binding assigns a call made through the name itself (`transforms = transforms.Compose([...])`): the
    calls written in that statement, and those before it, reach the imported module."""
    value = binding.value
    if binding.kind != "assign" or not isinstance(value, cst.Call):
        return False
    root = value.func
    while isinstance(root, cst.Attribute):
        root = root.value
    return isinstance(root, cst.Name) and root.value == name and root is not value.func
