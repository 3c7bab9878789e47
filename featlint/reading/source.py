"""Reading a file into text the way Python would, with a clear reason when that is impossible."""

from __future__ import annotations

import codecs
import io
import tokenize
from pathlib import Path


class UnreadableSource(Exception):
    """Why a file cannot be linted, with the 1-based position to report it at."""

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


def read_source(path: Path) -> str:
    return decode_source(read_bytes(path))


def read_bytes(path: Path) -> bytes:
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            # A FIFO or a device named on the command line: reading it could block forever.
            raise UnreadableSource("Not a regular file (a pipe, socket or device): not read")
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableSource("No such file or directory") from None
    except IsADirectoryError:
        raise UnreadableSource("Is a directory, not a Python file") from None
    except PermissionError:
        raise UnreadableSource("Permission denied: the file cannot be read") from None
    except OSError as error:
        raise UnreadableSource(f"Cannot read the file: {error.strerror or error}") from None


def decode_source(data: bytes) -> str:
    """Decode as Python does: a BOM or a PEP 263 coding line, else UTF-8. NUL bytes mean a binary file."""
    if b"\x00" in data:
        row = data[: data.index(b"\x00")].count(b"\n") + 1
        raise UnreadableSource("Binary file (it contains NUL bytes), not Python source", row, 1)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if not error.msg.startswith("invalid or missing encoding declaration"):
            raise UnreadableSource(f"Bad coding declaration: {error.msg}", error.lineno or 1, 1) from None
        encoding = "utf-8"  # no declaration and undecodable bytes: say which byte, as for the rest of the file
    try:
        codecs.lookup(encoding)
        return data.decode(encoding)
    except LookupError:
        raise UnreadableSource(f"Unknown encoding {encoding!r} in the coding declaration") from None
    except UnicodeDecodeError as error:
        row = data[: error.start].count(b"\n") + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start: error.start].decode(encoding, errors="replace")) + 1
        raise UnreadableSource(
            f"Not valid {_display(encoding)}: byte 0x{data[error.start]:02x} cannot be decoded "
            f"(declare the file's encoding with a `# -*- coding: ... -*-` line, or save it as UTF-8)",
            row,
            column,
        ) from None


def _display(encoding: str) -> str:
    return "UTF-8" if encoding.replace("-", "").lower().startswith("utf8") else encoding
