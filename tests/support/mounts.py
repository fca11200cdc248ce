"""Real file-system failures made with mount(8): a tiny tmpfs for a full disk, a read-only
bind mount for a read-only home. Both need root; a test that cannot have them skips,
naming why."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.waits import WAIT_SECONDS


def mount(*args: str) -> str | None:
    """Run ``mount``; the reason it failed, or None."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting needs root and mount(8)"
    done = subprocess.run(["mount", *args], capture_output=True, text=True,
                          timeout=WAIT_SECONDS, check=False)
    return None if done.returncode == 0 else f"mount {' '.join(args)}: {done.stderr.strip()}"


def umount(path: Path) -> None:
    """Unmount ``path``; lazily when something still holds a file there (a test that
    failed with a process or a thread still writing), so no mount outlives the test."""
    done = subprocess.run(["umount", str(path)], capture_output=True, timeout=WAIT_SECONDS,
                          check=False)
    if done.returncode != 0:
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True,
                       timeout=WAIT_SECONDS, check=True)


@contextmanager
def tiny_tmpfs(folder: Path, *, size: str = "1m") -> Iterator[None]:
    """``folder`` (which exists) as a tmpfs of ``size``, its files copied in; skips the
    test without one."""
    files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    reason = mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder))
    if reason is not None:
        pytest.skip(f"no tmpfs for a full disk: {reason}")
    try:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        yield
    finally:
        umount(folder)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only (bound onto itself, remounted read-only); skips the test
    without it."""
    reason = mount("--bind", str(folder), str(folder))
    if reason is not None:
        pytest.skip(f"no bind mount for a read-only folder: {reason}")
    try:
        reason = mount("-o", "remount,ro,bind", str(folder))
        if reason is not None:
            pytest.skip(f"cannot remount {folder} read-only: {reason}")
        yield
    finally:
        umount(folder)


def fill(folder: Path, *, leave: int = 0) -> Path:
    """Use up the free space of the file system holding ``folder``, all but about
    ``leave`` bytes; the file that holds it (remove it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        stats = os.statvfs(folder)
        free = stats.f_bavail * stats.f_frsize
        block = b"\0" * 4096
        for _ in range(max(0, free - leave) // len(block) + 1):
            os.write(fd, block)
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    return filler
