"""Where featlint lives on the web, from one setting: `[project.urls]` in pyproject.toml.

Rule links (JSON `url`, SARIF `helpUri`, the editor's code description) and SARIF's `informationUri` are built
from it, so moving the project is one edit. In a source checkout (an editable install included) the
pyproject.toml beside the package is read, so it is never stale; an installed wheel reads the same table from
its metadata (`Project-URL`). Read on first use only: the concise output never needs it.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

# The `[project.urls]` labels featlint reads.
HOMEPAGE = "Homepage"
RULES = "Rules"  # docs/rules.md, with one anchor per code


@functools.cache
def project_urls() -> dict[str, str]:
    checkout = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if checkout.is_file():
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        project = tomllib.loads(checkout.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "featlint":
            return dict(project.get("urls", {}))
    from importlib.metadata import metadata

    return from_metadata(metadata("featlint").get_all("Project-URL") or [])


def from_metadata(entries: list[str]) -> dict[str, str]:
    """The `[project.urls]` table back from core metadata's `Project-URL: Label, address` fields."""
    pairs = (entry.split(",", 1) for entry in entries if "," in entry)
    return {label.strip(): address.strip() for label, address in pairs}


def rule_url(code: str) -> str:
    """Where a rule's documentation lives."""
    return f"{project_urls()[RULES]}#{code.lower()}"


def homepage() -> str:
    return project_urls()[HOMEPAGE]
