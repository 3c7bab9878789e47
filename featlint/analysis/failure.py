"""A shared part of the analysis that failed, and where in the file it was when it did.

The story, the architectures and the inputs are each built once and read by many rules. Should building one
still fail (the interpreter already turns a statement it cannot follow into an unknown one), every rule that
reads it gets the same :class:`AnalysisFailed` instead of building it again: the engine then reports the
failure once for the file, naming the part and the rules that could not check it, and the rules that do not
read that part still report their findings.
"""

from __future__ import annotations

from featlint.startup.deferred import cst


class AnalysisFailed(Exception):
    def __init__(self, part: str, cause: Exception) -> None:
        super().__init__(f"{part}: {describe(cause)}")
        self.part = part  # what failed, as a message names it: "the model story"
        self.message = describe(cause)
        self.node = failing_node(cause)


def describe(error: BaseException) -> str:
    """`Type: message`, or the type alone when the exception says nothing more (a bare `assert`)."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def failing_node(error: BaseException) -> cst.CSTNode | None:
    """The syntax node the innermost frame of `error`'s traceback was working on, if any: the place in the user's
    file to name in the report (the frames of the interpreter and the rules all hold the node they look at)."""
    frames = []
    trace = error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            if isinstance(value, cst.CSTNode) and not isinstance(value, cst.Module):
                return value
    return None
