"""The registry: every rule featlint has, in code order."""

from __future__ import annotations

from featlint.rules.base import Rule
from featlint.rules.fl001_unreadable_file import UnreadableFile
from featlint.rules.fl101_requires_grad_typo import RequiresGradTypo
from featlint.rules.fl102_module_requires_grad_assignment import ModuleRequiresGradAssignment
from featlint.rules.fl104_requires_grad_misuse import RequiresGradMisuse
from featlint.rules.fl305_deprecated_pretrained import DeprecatedPretrained
from featlint.rules.fl401_extreme_learning_rate import ExtremeLearningRate

ALL_RULES: tuple[type[Rule], ...] = (
    UnreadableFile,
    RequiresGradTypo,
    ModuleRequiresGradAssignment,
    RequiresGradMisuse,
    DeprecatedPretrained,
    ExtremeLearningRate,
)
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}
RULES_BY_NAME: dict[str, type[Rule]] = {rule.name: rule for rule in ALL_RULES}
