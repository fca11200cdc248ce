"""What the sandbox says when it refuses: what is wrong and, where the raiser knows it,
what to do about it, kept apart so a front end prints them in its own form (the command
line as ``llmx <command>: <what> — <what to do>``). ``str()`` joins the two with "; ", as
the messages read where they are shown whole (a tool's output, an app-server error).
"""

from __future__ import annotations


class SandboxFailure(Exception):
    """``what`` went wrong, in one line; ``todo`` is the way out, when there is one."""

    def __init__(self, what: str, todo: str | None = None) -> None:
        super().__init__(what if todo is None else f"{what}; {todo}")
        self.what = what
        self.todo = todo
