"""Where the interpreter is: the scope, the names bound so far and the conditions, loops and grad mode
around the statement being interpreted."""

from __future__ import annotations

import dataclasses

from featlint.analysis.scopes import Scope
from featlint.startup.deferred import cst


@dataclasses.dataclass(eq=False)
class Frame:
    scope: Scope
    env: dict[str, object]
    tests: list[cst.BaseExpression | None] = dataclasses.field(default_factory=list)
    inherited_condition: bool = False
    loops: tuple[cst.CSTNode, ...] = ()
    no_grad: bool = False
    depth: int = 0
    returned: list[object] = dataclasses.field(default_factory=list)
    # The decided branches the interpreter follows here ("`feature_extract` is True"): what is recorded holds
    # on that path.
    assumptions: tuple[str, ...] = ()

    @property
    def conditional(self) -> bool:
        return self.inherited_condition or bool(self.tests)
