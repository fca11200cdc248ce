"""File operations that never follow a symbolic link, for writers outside the kernel sandbox.

apply_patch writes from llmx's own process, which the kernel does not confine. Its paths
are checked against the plan first (``patch_safety``), on their resolved form; these
functions then make sure the bytes land exactly there. Every component of the path is
opened on its own, from ``/``, with ``O_NOFOLLOW``: a symbolic link anywhere along the
way, planted before the check or between the check and the write, makes the operation
fail (``SymlinkInPath``) instead of taking it elsewhere. Opening one name at a time
relative to its parent's descriptor gives what ``openat2(RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS)`` gives (no name holds ``/`` or ``..``, and ``O_NOFOLLOW`` refuses
magic links too) and works on every kernel and on macOS.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

# ``O_PATH`` needs no read permission on the directories walked through (Linux only).
_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class SymlinkInPath(OSError):
    """A component of the path is a symbolic link (or became one)."""


def _refuse_link(path: Path, exc: OSError) -> OSError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _any_link(path):
        return SymlinkInPath(errno.ELOOP, "a component of the path is a symbolic link", str(path))
    return exc


def _any_link(path: Path) -> bool:
    return any(p.is_symlink() for p in (path, *path.parents))


@contextlib.contextmanager
def _parent_dir(path: Path, *, create: bool) -> Iterator[int]:
    """A descriptor of ``path``'s parent reached without following links; ``create``
    makes missing directories on the way (mode 0777 less the umask, as ``mkdir -p``)."""
    if not path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{path} must be absolute and normalised")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for name in path.parent.parts[1:]:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    except OSError as exc:
        raise _refuse_link(path, exc) from None
    finally:
        os.close(fd)


# ``O_NONBLOCK``: a planted FIFO fails the open (or the regular-file check) instead of
# blocking the session forever; it changes nothing for regular files.
_FILE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _regular(fd: int, path: Path) -> int:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "not a regular file", str(path))
    return fd


def read_text(path: Path) -> str:
    with _parent_dir(path, create=False) as parent:
        try:
            fd = os.open(path.name, os.O_RDONLY | _FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _refuse_link(path, exc) from None
    with open(_regular(fd, path), encoding="utf-8") as handle:
        return handle.read()


def write_text(path: Path, content: str) -> None:
    """Create or truncate ``path`` (missing parents made) and write ``content``."""
    with _parent_dir(path, create=True) as parent:
        try:
            fd = os.open(path.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _FILE_FLAGS,
                         0o666, dir_fd=parent)
        except OSError as exc:
            raise _refuse_link(path, exc) from None
    with open(_regular(fd, path), "w", encoding="utf-8") as handle:
        handle.write(content)


def remove(path: Path) -> None:
    """Remove the directory entry ``path`` (a link is removed, never what it points to)."""
    with _parent_dir(path, create=False) as parent:
        os.unlink(path.name, dir_fd=parent)
