"""Files that concurrent featlint runs share (the result cache, the compiled dataclass methods) are written
whole or not at all: to a temporary file in the same directory, then renamed over the old one, so a reader
never sees half a file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Raises OSError like any write; the temporary file never outlives a failure."""
    import tempfile  # here: it costs a few milliseconds, and most runs write nothing

    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
