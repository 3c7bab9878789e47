"""`featlint run` writes nothing in the user's project: what the script writes there goes to a scratch folder.

A script that finishes within the watched steps (one epoch on a small data set) saves its checkpoint, and
that checkpoint must not replace the user's real one. The script keeps running in the project (so relative
paths to its data still work); the ways Python code writes a file are redirected when the path is in the
project: `open` (and so `pathlib`, numpy, PIL, logging), `os.open`, `os.mkdir`/`makedirs`, `os.rename`/
`replace`, `os.remove`/`unlink`/`rmdir`, `shutil.rmtree`, `torch.save` (whose zip writer is C++) and
safetensors' `save_file` (Hugging Face's `save_pretrained`). A redirected file is read back from the scratch
folder (a checkpoint saved, then loaded); `os.stat` (`os.path.exists`) sees it there too. Writes made by
compiled code of other libraries are not seen. Runs in the child process; the list of what was redirected
becomes a note of the report.
"""

from __future__ import annotations

import builtins
import functools
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

_WRITE_MODES = frozenset("wax+")
_RELATIVE_TO_FOLDER = ("dir_fd", "src_dir_fd", "dst_dir_fd")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def project_roots(script: str, cwd: str) -> list[str]:
    """The folders the script must not write in: its project (the nearest folder above the script that holds
    .git, pyproject.toml, setup.py or setup.cfg, else the script's own folder) and the working directory;
    never the file system's root, the home directory or the temporary folder themselves (everything's temporary
    files would count as the project's)."""
    folder = os.path.dirname(os.path.abspath(script))
    project = folder
    for candidate in (folder, *_parents(folder)):
        if any(os.path.exists(os.path.join(candidate, m)) for m in (".git", "pyproject.toml", "setup.py", "setup.cfg")):
            project = candidate
            break
    shared = {os.path.abspath(os.sep), os.path.abspath(os.path.expanduser("~")), os.path.abspath(tempfile.gettempdir())}
    return list(dict.fromkeys(root for root in (project, os.path.abspath(cwd)) if root not in shared))


def _parents(folder: str) -> list[str]:
    found = []
    while (parent := os.path.dirname(folder)) != folder:
        found.append(parent)
        folder = parent
    return found


class Sandbox:
    def __init__(self, roots: Sequence[str], scratch: str, passthrough: str) -> None:
        self.roots = [os.path.join(os.path.abspath(r), "") for r in roots]
        self.scratch = os.path.abspath(scratch)
        self.passthrough = os.path.join(os.path.abspath(passthrough), "")  # featlint's own files (the result)
        self.written: list[str] = []  # project-relative paths the script wrote (or removed), in order

    def _inside(self, path: Any) -> tuple[str, str] | None:
        """(absolute path, path relative to its root) when `path` names something in the project."""
        if isinstance(path, int) or not isinstance(path, (str, bytes, os.PathLike)):
            return None
        absolute = os.path.abspath(os.fsdecode(path))
        if absolute.startswith(self.passthrough):
            return None
        for root in self.roots:
            if absolute.startswith(root) or absolute + os.sep == root:
                return absolute, os.path.relpath(absolute, root)
        return None

    def target(self, path: Any, *, writing: bool, action: str = "wrote") -> Any:
        """Where the script's access to `path` really goes: the scratch copy of a project path it writes,
        or has written before; any other path as it is."""
        inside = self._inside(path)
        if inside is None:
            return path
        absolute, _relative = inside
        shadow = self.scratch + absolute
        if not writing:
            return shadow if os.path.lexists(shadow) else path
        os.makedirs(os.path.dirname(shadow), exist_ok=True)
        if action == "appended" and not os.path.lexists(shadow) and os.path.isfile(absolute):
            shutil.copyfile(absolute, shadow)  # appending to (or updating) a real file: start from its content
        if action != "made":  # folders are where files go; the files are what the report lists
            shown = os.path.relpath(absolute)
            entry = shown if action in ("wrote", "appended") else f"{shown} ({action})"
            if entry not in self.written:
                self.written.append(entry)
        return shadow

    def note(self) -> str | None:
        if not self.written:
            return None
        shown = ", ".join(self.written[:5]) + (f" and {len(self.written) - 5} more" if len(self.written) > 5 else "")
        return (f"the script wrote in the project ({shown}): featlint run kept it out of the project, in a scratch "
                "folder removed after the run")

    def install(self) -> None:
        sandbox = self
        original_open = builtins.open

        @functools.wraps(original_open)
        def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            writing = bool(_WRITE_MODES.intersection(mode))
            action = "appended" if "a" in mode or "+" in mode else "wrote"
            return original_open(sandbox.target(file, writing=writing, action=action), mode, *args, **kwargs)

        builtins.open = open_
        io.open = open_

        original_os_open = os.open

        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if kwargs.get("dir_fd") is not None:  # relative to an open folder: already redirected
                return original_os_open(path, flags, *args, **kwargs)
            writing = bool(flags & _WRITE_FLAGS)
            action = "appended" if flags & (os.O_APPEND | os.O_RDWR) else "wrote"
            return original_os_open(sandbox.target(path, writing=writing, action=action), flags, *args, **kwargs)

        os.open = os_open
        _redirect(os, "mkdir", lambda path, *a, **k: ((sandbox.target(path, writing=True, action="made"), *a), k))
        _redirect(os, "stat", lambda path, *a, **k: ((sandbox.target(path, writing=False), *a), k))
        for name in ("rename", "replace"):
            _redirect(os, name, lambda src, dst, *a, **k: (
                (sandbox.target(src, writing=False), sandbox.target(dst, writing=True, action="wrote"), *a), k))
        for name in ("remove", "unlink", "rmdir"):
            _redirect(os, name, lambda path, *a, **k: ((sandbox._removed(path), *a), k))
        _redirect(shutil, "rmtree", lambda path, *a, **k: ((sandbox._removed(path), *a), k))
        self._install_torch()

    def _removed(self, path: Any) -> Any:
        """Removing a project path removes only the script's own scratch copy; a real file stays, and the
        report says the script would have removed it."""
        inside = self._inside(path)
        if inside is None:
            return path
        shadow = self.scratch + inside[0]
        if not os.path.lexists(inside[0]):
            return shadow  # the script's own file, or nothing (the error is the script's to see)
        self.target(path, writing=True, action="removed")
        if not os.path.lexists(shadow):  # only the real one: remove an empty stand-in instead
            if os.path.isdir(inside[0]):
                os.makedirs(shadow, exist_ok=True)
            else:
                with open(shadow, "wb"):
                    pass
        return shadow

    def _install_torch(self) -> None:
        import torch

        sandbox = self
        _redirect(torch, "save", lambda obj, f, *a, **k: ((obj, sandbox.target(f, writing=True), *a), k))
        _redirect(torch, "load", lambda f, *a, **k: ((sandbox.target(f, writing=False), *a), k))
        safetensors = sys.modules.get("safetensors.torch")
        if safetensors is None:
            import importlib.util

            if importlib.util.find_spec("safetensors") is None:
                return
            import safetensors.torch as safetensors
        _redirect(safetensors, "save_file", lambda t, f, *a, **k: ((t, sandbox.target(f, writing=True), *a), k))
        _redirect(safetensors, "load_file", lambda f, *a, **k: ((sandbox.target(f, writing=False), *a), k))


def _redirect(owner: Any, name: str, arguments: Callable[..., tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
    """Replace `owner.name` by a function that rewrites its arguments with `arguments` first."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def redirected(*args: Any, **kwargs: Any) -> Any:
        if any(kwargs.get(key) is not None for key in _RELATIVE_TO_FOLDER):
            return original(*args, **kwargs)  # relative to an open folder (shutil.rmtree): already redirected
        try:
            args, kwargs = arguments(*args, **kwargs)
        except TypeError:
            pass  # called with keywords we do not rewrite: the original reports its own error
        return original(*args, **kwargs)

    setattr(owner, name, redirected)
