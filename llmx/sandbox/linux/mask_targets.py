"""Synthetic mount targets: the empty directories made so that a missing ``.codex`` is masked.

A mount needs an existing mount point, and the kernel cannot refuse the creation of one
name in a writable directory (Landlock rules cover hierarchies, seccomp cannot read path
arguments). So a protected name that is missing (the workspace's ``.codex``) gets an empty
directory in the real workspace for as long as a command runs, with an empty read-only
tmpfs mounted on it inside the sandbox. This module makes sure that directory leaves no
trace, as Codex's registry of synthetic bubblewrap mount targets does:

- every user of a target leaves a *marker* ``<registry>/<hash of path>/<pid>.<n>`` saying
  whether it made (or adopted) the directory, and which inode it is;
- the registry is changed only under ``flock`` of ``<registry>/lock``;
- the last user to leave (no marker of a live process remains) removes the directory, and
  only if it is still empty and still the same inode; markers of dead processes are reaped
  on the way;
- an empty directory found where a marker of ours (live or dead) says we made it is
  adopted, so a run that crashed, or one running beside us, leaves nothing behind. An
  empty directory no marker explains is the user's own and is never removed.

Every operation goes through a descriptor of the registry opened by the caller, so the
waiter of the exec path can clean up from inside its mount namespace, where ``$TMPDIR``
may be read-only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator

from llmx.sandbox.value import Value

REGISTRY_PREFIX = "llmx-synthetic-mount-targets"
_MADE = "synthetic"
_FOUND = "existing"
_serial = [0]


def registry_root() -> str:
    """``$TMPDIR/llmx-synthetic-mount-targets-<uid>``: per user, as ``/tmp`` is shared."""
    base = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(base, f"{REGISTRY_PREFIX}-{os.getuid()}")


def path_key(path: str) -> str:
    """The marker folder of ``path``: FNV-1a 64 of its bytes, as Codex names them."""
    value = 0xCBF29CE484222325
    for byte in os.fsencode(path):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


class MaskTarget(Value):
    __slots__ = ("identity", "key", "marker", "path")

    def __init__(self, path: str, key: str, marker: str, identity: tuple[int, int] | None) -> None:
        self.path = path
        self.key = key
        self.marker = marker
        # (st_dev, st_ino) of a directory we made or adopted; None for one that is not ours.
        self.identity = identity


class MaskRegistration:
    """This process's claim on some targets; ``release`` once the command is gone."""

    __slots__ = ("released", "requested", "root_fd", "targets")

    def __init__(
        self,
        root_fd: int,
        targets: tuple[MaskTarget, ...],
        released: bool = False,
        requested: tuple[str, ...] = (),
    ) -> None:
        self.root_fd = root_fd
        self.targets = targets
        self.released = released
        # The paths asked for (``targets`` leaves out the unwritable ones): what a next
        # command's request is matched against to take this claim back (``_reclaim``).
        self.requested = requested

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(target.path for target in self.targets)


def register(paths: tuple[str, ...]) -> MaskRegistration:
    """Make (or adopt) a directory at each of ``paths`` and mark it as used by this process.

    A path whose directory this user cannot write (``EACCES``, ``EPERM``, ``EROFS``) is
    left out: the confined command, with the same credentials and fewer rights, cannot
    create it either (``registration.paths`` holds the rest). Raises ``OSError`` naming the
    path when the registry or a directory cannot be made for another reason.
    """
    reclaimed = _reclaim(paths)
    if reclaimed is not None:
        return reclaimed
    root_fd = _open_registry()
    registration = MaskRegistration(root_fd, (), requested=paths)
    try:
        with _locked(root_fd):
            for path in paths:
                # One at a time: a failure releases exactly what was registered.
                target = _register_one(root_fd, path)
                if target is not None:
                    registration.targets = (*registration.targets, target)
    except BaseException:
        release(registration)
        raise
    return registration


# A session's commands often follow one another, each with the same targets. Removing and
# making them again costs two ``rmdir`` per name, milliseconds each on some file systems
# (ext4 with online discard frees the folder's block synchronously). So a long-lived
# caller may let its claim *linger*: its markers stay for ``LINGER_SECONDS`` after the
# command, the next command adopts the directories (a live marker of ours says we made
# them), and when the last claim expires, or the process exits, the directories go.
LINGER_SECONDS = 1.0
_lingering: list[tuple[float, MaskRegistration]] = []


class _LingerState:
    """The lock over ``_lingering`` (made when a first claim lingers; the one-shot exec
    path never lingers and need not load ``threading``), and how to stop the timer that
    releases the earliest claim, while one runs."""

    __slots__ = ("cancel_timer", "lock")

    def __init__(self) -> None:
        self.lock: contextlib.AbstractContextManager[bool] | None = None
        self.cancel_timer: Callable[[], None] | None = None


_linger_state = _LingerState()


def release(registration: MaskRegistration, *, unmount: bool = False,
            linger: bool = False) -> None:
    """Drop this process's markers; the last user removes its empty directories.

    ``unmount``: the caller is inside the mount namespace where the targets are mount
    points (the waiter of the exec path); it detaches them first, or ``rmdir`` would fail.
    ``linger``: keep the claim ``LINGER_SECONDS`` longer (see above); only for a process
    that lives on after the command (a session).
    """
    if registration.released:
        return
    if linger and not unmount:
        _linger(registration)
        return
    registration.released = True
    try:
        if unmount:
            from llmx.sandbox.linux import kernel

            for target in registration.targets:
                with contextlib.suppress(OSError):
                    kernel.umount(target.path)
        with _locked(registration.root_fd):
            for target in reversed(registration.targets):
                _release_one(registration.root_fd, target)
    finally:
        os.close(registration.root_fd)


def _linger(registration: MaskRegistration) -> None:
    # Imported here: the one-shot exec path never lingers and need not load threading.
    import atexit
    import threading
    import time

    lock = _linger_state.lock
    if lock is None:
        lock = _linger_state.lock = threading.Lock()
        atexit.register(release_lingering)
    with lock:
        _lingering.append((time.monotonic() + LINGER_SECONDS, registration))
        _schedule()


def _schedule() -> None:
    """Start the timer for the earliest expiry, unless one runs (lock held)."""
    import threading
    import time

    if _linger_state.cancel_timer is None and _lingering:
        delay = max(0.0, min(due for due, _ in _lingering) - time.monotonic())
        timer = threading.Timer(delay, _expire)
        timer.daemon = True
        _linger_state.cancel_timer = timer.cancel
        timer.start()


def _expire() -> None:
    import time

    assert _linger_state.lock is not None  # the claim that started the timer made it
    with _linger_state.lock:
        _linger_state.cancel_timer = None
        now = time.monotonic()
        due = [r for when, r in _lingering if when <= now]
        _lingering[:] = [(when, r) for when, r in _lingering if when > now]
        _schedule()
    for registration in due:
        release(registration)


def _reclaim(paths: tuple[str, ...]) -> MaskRegistration | None:
    """This process's lingering claim on exactly ``paths``, taken back when each of its
    directories is still the empty one it registered; None otherwise.

    A session's commands ask for the same targets one after another: taking the claim
    back skips the registry (its lock, a scan of every marker and a new marker per
    target), which cost milliseconds per command and grew with the markers a busy session
    left lingering. Its markers stayed live all along, so no other process removed the
    directories; one changed on the host in between (removed, replaced, filled) sends the
    claim through the registry as usual.
    """
    lock = _linger_state.lock
    if lock is None:
        return None
    with lock:
        for index, (_, lingering) in enumerate(_lingering):
            if lingering.requested == paths:
                del _lingering[index]
                break
        else:
            return None
    if all(_unchanged(target) for target in lingering.targets):
        return lingering
    release(lingering)
    return None


def _unchanged(target: MaskTarget) -> bool:
    found = _empty_dir(target.path)
    if found is None:
        return False
    return target.identity is None or found == target.identity


def release_lingering() -> None:
    """Release every lingering claim of this process now (at exit, or on request)."""
    lock = _linger_state.lock
    if lock is None:
        return
    with lock:
        due = [r for _, r in _lingering]
        _lingering.clear()
        cancel_timer, _linger_state.cancel_timer = _linger_state.cancel_timer, None
    if cancel_timer is not None:
        cancel_timer()
    for registration in due:
        release(registration)


def _open_registry() -> int:
    root = registry_root()
    with contextlib.suppress(FileExistsError):
        os.mkdir(root, 0o700)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open the mount target registry {root}: "
                      f"{exc.strerror}") from None
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        os.close(fd)
        raise PermissionError(f"the mount target registry {root} is not a private folder of "
                              "this user; remove it or point TMPDIR elsewhere")
    return fd


@contextlib.contextmanager
def _locked(root_fd: int) -> Iterator[None]:
    lock = os.open("lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600, dir_fd=root_fd)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)  # releases the lock


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(marker: str) -> int | None:
    try:
        return int(marker.split(".", 1)[0])
    except ValueError:
        return None


def _parse(text: str) -> tuple[int, int] | None:
    parts = text.split()
    if len(parts) == 3 and parts[0] == _MADE and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2])
    return None


def _scan(key_fd: int) -> tuple[int, set[tuple[int, int]]]:
    """Reap markers of dead processes; return how many live ones remain and the inodes
    any marker (live or reaped) says we made."""
    live = 0
    made: set[tuple[int, int]] = set()
    for name in os.listdir(key_fd):
        pid = _owner(name)
        if pid is None:
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=key_fd)
        except FileNotFoundError:
            continue
        try:
            identity = _parse(os.read(fd, 256).decode("ascii", "replace"))
        finally:
            os.close(fd)
        if identity is not None:
            made.add(identity)
        if _alive(pid):
            live += 1
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=key_fd)
    return live, made


def _open_key(root_fd: int, key: str, create: bool) -> int | None:
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(key, 0o700, dir_fd=root_fd)
    try:
        return os.open(key, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                       dir_fd=root_fd)
    except FileNotFoundError:
        return None


def _empty_dir(path: str) -> tuple[int, int] | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    with os.scandir(path) as entries:
        if next(entries, None) is not None:
            return None
    return info.st_dev, info.st_ino


_UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _register_one(root_fd: int, path: str) -> MaskTarget | None:
    key = path_key(path)
    key_fd = _open_key(root_fd, key, create=True)
    assert key_fd is not None
    try:
        _live, made = _scan(key_fd)
        identity: tuple[int, int] | None
        if not os.path.lexists(path):
            try:
                # The umask's mode, as ``mkdir`` gives; never the mask's 0555.
                os.mkdir(path)
            except OSError as exc:
                if exc.errno in _UNWRITABLE:
                    with contextlib.suppress(OSError):
                        os.rmdir(key, dir_fd=root_fd)  # unless another run uses it
                    return None
                raise OSError(exc.errno, f"cannot create the mount point {path} that keeps "
                              f"it from being created: {exc.strerror}") from None
            created = os.lstat(path)
            identity = (created.st_dev, created.st_ino)
        else:
            found = _empty_dir(path)
            identity = found if found in made else None
        _serial[0] += 1
        marker = f"{os.getpid()}.{_serial[0]}"
        text = _FOUND if identity is None else f"{_MADE} {identity[0]} {identity[1]}"
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600,
                     dir_fd=key_fd)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return MaskTarget(path, key, marker, identity)
    finally:
        os.close(key_fd)


def _release_one(root_fd: int, target: MaskTarget) -> None:
    key_fd = _open_key(root_fd, target.key, create=False)
    if key_fd is None:
        return
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target.marker, dir_fd=key_fd)
        live, _made = _scan(key_fd)
        if live:
            return  # another command still has its mask on this directory
        if target.identity is not None and _empty_dir(target.path) == target.identity:
            with contextlib.suppress(OSError):
                os.rmdir(target.path)
    finally:
        os.close(key_fd)
    with contextlib.suppress(OSError):
        os.rmdir(target.key, dir_fd=root_fd)
