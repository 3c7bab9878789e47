"""The registry: every rule featlint has, in code order.

Each rule lives in its own module named `flNNN_<name>.py` holding exactly one `Rule` subclass; adding a
rule is adding that file. The registry finds the modules by name, so no list has to be kept in step.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from featlint.rules.base import Rule

_RULE_MODULE = re.compile(r"fl\d{3}_\w+")


def _load() -> tuple[type[Rule], ...]:
    found: list[type[Rule]] = []
    for module_info in pkgutil.iter_modules(__path__):
        if not _RULE_MODULE.fullmatch(module_info.name):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        rules = [
            value for value in vars(module).values()
            # type(), not isinstance(): isinstance reads `__class__` of every value, which would load the
            # deferred libcst module the rule imported (featlint/startup/deferred.py).
            if issubclass(type(value), type) and issubclass(value, Rule) and value.__module__ == module.__name__
            and getattr(value, "code", None)
        ]
        if len(rules) != 1:
            raise ImportError(f"{module.__name__} must define exactly one rule, found {len(rules)}")
        found.append(rules[0])
    return tuple(sorted(found, key=lambda rule: rule.code))


ALL_RULES: tuple[type[Rule], ...] = _load()
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}
RULES_BY_NAME: dict[str, type[Rule]] = {rule.name: rule for rule in ALL_RULES}
