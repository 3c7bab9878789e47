"""Where each cell's `source` sits in a notebook's JSON text, found with the standard library's decoder,
so that a fix replaces those bytes and leaves every other byte of the file as it was."""

from __future__ import annotations

import dataclasses
import json
import re


@dataclasses.dataclass(frozen=True)
class SourceSpan:
    """Where one cell's `source` value sits in the JSON text."""

    start: int
    end: int
    items: tuple[int, ...]  # offsets of the list's strings (one line each); empty for a single string


def indent_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    line = text[start:offset]
    return line[: len(line) - len(line.lstrip())]


def string_end(text: str, start: int) -> int:
    """The offset just past the JSON string that starts (with its quote) at `start`."""
    return json.decoder.scanstring(text, start + 1)[1]


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, offset: int) -> int:
    return _SPACE.match(text, offset).end()  # type: ignore[union-attr]


def _members(text: str, offset: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the JSON object at `offset` (already known to be valid JSON)."""
    found = []
    offset = _skip(text, offset + 1)
    while text[offset] != "}":
        key, offset = json.decoder.scanstring(text, offset + 1)
        offset = _skip(text, _skip(text, offset) + 1)  # past the colon
        _, end = _DECODER.raw_decode(text, offset)
        found.append((key, offset, end))
        offset = _skip(text, end)
        if text[offset] == ",":
            offset = _skip(text, offset + 1)
    return found


def _items(text: str, start: int) -> list[int]:
    """Offsets of the values of the JSON array at `start`."""
    found = []
    offset = _skip(text, start + 1)
    while text[offset] != "]":
        found.append(offset)
        _, offset = _DECODER.raw_decode(text, offset)
        offset = _skip(text, offset)
        if text[offset] == ",":
            offset = _skip(text, offset + 1)
    return found


def source_spans(text: str, count: int) -> list[SourceSpan | None]:
    top = {key: (start, end) for key, start, end in _members(text, _skip(text, 0))}
    spans: list[SourceSpan | None] = []
    for cell_start in _items(text, top["cells"][0]):
        source = next(((s, e) for key, s, e in _members(text, cell_start) if key == "source"), None)
        if source is None:
            spans.append(None)
            continue
        start, end = source
        items = tuple(_items(text, start)) if text[start] == "[" else ()
        spans.append(SourceSpan(start, end, items))
    return spans + [None] * (count - len(spans))
