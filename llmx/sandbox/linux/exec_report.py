"""The lines a confined process writes itself when its command cannot start.

On the exec path (``exec_confined``) llmx becomes the command: no parent is left to
report a failed set-up or a command that cannot run, so the process (or the init of its
PID namespace) writes the line itself, in the command line's one form:
``llmx sandbox linux: cannot run foo: No such file or directory — check ...``. Elsewhere
(a command of the agent, run through the spawn server) the same line is the command's
output, under the name ``llmx sandbox``.
"""

from __future__ import annotations

import errno

# The command line that is becoming the command (``exec_confined`` sets it before it
# forks or execs; the process ends as the command, so nothing else reads it after).
program = "llmx sandbox"
# True once ``exec_confined`` has set ``program``: a failed set-up is then reported on
# stderr as a line of its own (on the other paths the parent reads it from a pipe).
on_exec_path = False

_NOT_FOUND = frozenset({errno.ENOENT, errno.ENOTDIR})


def cannot_run(name: str, code: int, reason: str) -> bytes:
    """The line for a command that did not start (``code`` the errno of the exec)."""
    if code in _NOT_FOUND:
        todo = "check the command's name and PATH"
    elif code == errno.ENOEXEC:
        todo = "run a program, or a script that starts with #!"
    else:
        todo = "check that it is an executable file"
    return f"{program}: cannot run {name}: {reason} — {todo}\n".encode(errors="replace")


def setup_failed(detail: str) -> bytes:
    """The line for a sandbox that could not be set up (the command never started)."""
    return (f"{program}: could not confine the command ({detail}) — `llmx sandbox explain` "
            "says what this machine's backends can do\n").encode(errors="replace")
