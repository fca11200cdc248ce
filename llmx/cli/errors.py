"""One form for every error a command reports: ``llmx <command>: <what> — <what to do>``.

A bad input (a corrupt line, a missing file, a bad flag value, a full disk, a busy
rollout) ends a command with that one line on stderr and an exit status, never a
traceback. A handler either returns :func:`fail` or raises :class:`CommandError`; the
entry point reports a ``CommandError`` (and, as a last resort, any ``OSError``) that
escapes a handler in the same form, so a command that forgot a case still says what
happened to which path.

This module is imported by every command at start-up: it loads nothing beyond ``sys``.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path

# Between what happened and what to do about it.
SEPARATOR = " — "


class CommandError(Exception):
    """A failure reported as one line: ``what`` happened, ``todo`` is the way out."""

    def __init__(self, what: str, todo: str | None = None, *, code: int = 1) -> None:
        super().__init__(what if todo is None else f"{what}{SEPARATOR}{todo}")
        self.what = what
        self.todo = todo
        self.code = code

    def line(self, command: str) -> str:
        """The error line ``command`` prints for this failure."""
        return error_line(command, self.what, self.todo)


def error_line(command: str, what: str, todo: str | None = None) -> str:
    """``llmx <command>: <what> — <todo>`` (without the dash when there is nothing to do;
    ``llmx: ...`` for the interactive session, which has no command word)."""
    text = f"llmx {command}: {what}" if command else f"llmx: {what}"
    return text if todo is None else f"{text}{SEPARATOR}{todo}"


def report(command: str, what: str, todo: str | None = None) -> None:
    """Print the error line of ``command`` on stderr."""
    print(error_line(command, what, todo), file=sys.stderr, flush=True)


def fail(command: str, what: str, todo: str | None = None, *, code: int = 1) -> int:
    """Report and return ``code``: ``return fail("sessions list", ..., ...)``."""
    report(command, what, todo)
    return code


def report_error(command: str, error: CommandError) -> int:
    """Report a raised :class:`CommandError`; its exit status."""
    print(error.line(command), file=sys.stderr, flush=True)
    return error.code


def warn(command: str, what: str) -> None:
    """A problem that does not stop the command: ``llmx <command>: warning: <what>``."""
    prefix = f"llmx {command}" if command else "llmx"
    print(f"{prefix}: warning: {what}", file=sys.stderr, flush=True)


# What to do, by errno, for a path that could not be read, written or created.
_ADVICE: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free some space there and retry"),
    errno.EDQUOT: ("disk quota exceeded", "free some space there and retry"),
    errno.EROFS: (
        "the file system is read-only",
        "make it writable, or point LLMX_HOME at a writable folder",
    ),
    errno.EACCES: ("permission denied", "check the owner and mode of that path"),
    errno.EPERM: ("operation not permitted", "check the owner and mode of that path"),
    errno.ENOTDIR: (
        "a part of the path is a file where a folder is expected",
        "move that file out of the way",
    ),
    errno.EISDIR: ("is a folder where a file is expected", "move that folder out of the way"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EIO: ("input/output error", "check the disk (dmesg) and retry"),
    errno.ELOOP: ("too many symbolic links", "check the links on that path"),
}


# Failures that only writing meets: said as "cannot write" when the caller did not say.
_WRITING = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def os_error(
    exc: OSError, path: Path | str | None = None, *, doing: str | None = None
) -> CommandError:
    """A :class:`CommandError` naming ``path`` (default: the path the error names) and
    what to do about ``exc``: ``cannot write /h/sessions: no space left on the device —
    free some space there and retry``. ``doing`` defaults to ``cannot write`` for what
    only a write meets (a full or read-only disk), ``cannot use`` otherwise."""
    if doing is None:
        doing = "cannot write" if exc.errno in _WRITING else "cannot use"
    target = path if path is not None else exc.filename
    found = _ADVICE.get(exc.errno or 0)
    if found is None:
        reason = exc.strerror or str(exc)
        todo = "check that path and retry"
    else:
        reason, todo = found
    where = f" {target}" if target is not None else ""
    return CommandError(f"{doing}{where}: {reason}", todo)


def route_log_warnings(command: str) -> None:
    """Print what llmx's lower layers log as warnings (the event store, the runtime) in
    this form, ``llmx <command>: warning: ...``, once each, instead of Python's bare
    last-resort output."""
    import logging  # only for commands that run the runtime; they load it anyway

    logger = logging.getLogger("llmx")
    for handler in list(logger.handlers):
        if handler.get_name() == _LOG_HANDLER:
            logger.removeHandler(handler)  # a second command in one process
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_LOG_HANDLER)
    handler.setFormatter(logging.Formatter(f"llmx {command}: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    logger.propagate = False


_LOG_HANDLER = "llmx-command-warnings"
