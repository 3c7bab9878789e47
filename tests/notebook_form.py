"""Notebooks written as text, for tests and rule examples: nbconvert's script form, where `# In[3]:` starts a
code cell that ran third, `# In[ ]:` one never run, and `# Markdown:` a markdown cell."""

from __future__ import annotations

import json
import re

_HEAD = re.compile(r"^# (?:In\[ *(\d*) *\]|(Markdown)):[ \t]*\n", re.MULTILINE)


def cells(script: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    heads = list(_HEAD.finditer(script))
    for head, following in zip(heads, [*heads[1:], None]):
        body = script[head.end(): following.start() if following is not None else len(script)].rstrip("\n")
        source = body.splitlines(keepends=True)
        if head.group(2):
            found.append({"cell_type": "markdown", "metadata": {}, "source": source})
            continue
        count = int(head.group(1)) if head.group(1) else None
        found.append({"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": [], "source": source})
    return found


def notebook(script: str, metadata: dict[str, object] | None = None) -> str:
    """The notebook as Jupyter saves it (nbformat's writer: one-space indent, sorted keys, a final newline)."""
    document = {
        "cells": cells(script),
        "metadata": metadata if metadata is not None else {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
