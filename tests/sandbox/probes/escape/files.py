"""Writes outside every writable root: each attempt targets its own ``outside/NAME.txt``
(made by the host beforehand where the attempt changes an existing file)."""

from __future__ import annotations

import ctypes
import os

from common import CTX, HOLDER, OUT, TOKEN, WS, check, libc, mark, out, renameat2_exchange
from common import syscall as sys_call
from common import write as _write


def write_abs_new(name: str) -> None:
    _write(out(name), name)


def write_abs_existing(name: str) -> None:
    _write(out(name), name, "a")


def write_relative(name: str) -> None:
    _write(os.path.relpath(out(name)), name)


def write_dotdot(name: str) -> None:
    _write(os.path.join(WS, str(CTX["dotdot"]), f"{name}.txt"), name)


def write_etc(name: str) -> None:
    _write(f"/etc/llmx-escape-{TOKEN}", name)


def write_root_dir(name: str) -> None:
    _write(f"/llmx-escape-{TOKEN}", name)


def write_var_tmp(name: str) -> None:
    _write(f"/var/tmp/llmx-escape-{TOKEN}", name)


def write_dev_shm(name: str) -> None:
    _write(f"/dev/shm/llmx-escape-{TOKEN}", name)


def mkdir_outside(name: str) -> None:
    os.mkdir(os.path.join(OUT, name))


def mkfifo_outside(name: str) -> None:
    os.mkfifo(os.path.join(OUT, name))


def unlink_outside(name: str) -> None:
    os.unlink(out(name))


def truncate_outside(name: str) -> None:
    os.truncate(out(name), 0)


def open_trunc_outside(name: str) -> None:
    os.close(os.open(out(name), os.O_WRONLY | os.O_TRUNC))


def chmod_outside(name: str) -> None:
    os.chmod(out(name), 0o4777)


def chown_outside(name: str) -> None:
    st = os.stat(out(name))
    os.chown(out(name), st.st_uid, st.st_gid + 1)


def utime_outside(name: str) -> None:
    os.utime(out(name), (1, 1))


def setxattr_outside(name: str) -> None:
    os.setxattr(out(name), "user.llmx", mark(name).encode())


def rename_out_of_ws(name: str) -> None:
    staged = os.path.join(WS, name)
    _write(staged, name)
    os.rename(staged, out(name))


def rename_dir_out_of_ws(name: str) -> None:
    staged = os.path.join(WS, name)
    os.mkdir(staged)
    _write(os.path.join(staged, "inside.txt"), name)
    os.rename(staged, os.path.join(OUT, name))


def rename_into_ws(name: str) -> None:
    os.rename(out(name), os.path.join(WS, f"{name}-stolen"))


def rename_exchange(name: str) -> None:
    staged = os.path.join(WS, name)
    _write(staged, name)
    renameat2_exchange(staged, out(name))


def symlink_file_escape(name: str) -> None:
    link = os.path.join(WS, f"{name}-link")
    os.symlink(out(name), link)
    _write(link, name)


def symlink_dir_escape(name: str) -> None:
    link = os.path.join(WS, f"{name}-dir")
    os.symlink(OUT, link)
    _write(os.path.join(link, f"{name}.txt"), name)


def hardlink_escape(name: str) -> None:
    target = os.path.join(WS, f"{name}-hardlink")
    os.link(out(name), target)
    _write(target, name, "a")


def proc_self_fd(name: str) -> None:
    fd = os.open(out(name), os.O_RDONLY)
    _write(f"/proc/self/fd/{fd}", name, "a")


def proc_self_root(name: str) -> None:
    _write("/proc/self/root" + out(name), name)


def proc_holder_root(name: str) -> None:
    _write(f"/proc/{HOLDER}/root" + out(name), name)


def proc_holder_cwd(name: str) -> None:
    # The holder's working directory is the outside folder.
    _write(f"/proc/{HOLDER}/cwd/{name}.txt", name)


def proc_holder_fd(name: str) -> None:
    # The holder keeps this attempt's file open for reading and writing.
    holder_fds = CTX["holder_fds"]
    assert isinstance(holder_fds, dict)
    _write(f"/proc/{HOLDER}/fd/{holder_fds[name]}", name, "a")


def tmpfile_link_outside(name: str) -> None:
    fd = os.open(OUT, os.O_TMPFILE | os.O_WRONLY, 0o600)
    os.write(fd, mark(name).encode())
    at_fdcwd, at_symlink_follow = -100, 0x400
    check(libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, out(name).encode(),
                      at_symlink_follow))


class _FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 128)]


def open_by_handle(name: str) -> None:
    # The "shocker" escape: a handle names an inode without a path, so no mount or path
    # rule is consulted when it is opened (needs CAP_DAC_READ_SEARCH of the host).
    handle = _FileHandle(128, 0)
    mount_id = ctypes.c_int()
    sys_call("name_to_handle_at", ctypes.c_int(-100), out(name).encode(), ctypes.byref(handle),
             ctypes.byref(mount_id), ctypes.c_int(0))
    mount_fd = os.open(OUT, os.O_RDONLY)
    fd = sys_call("open_by_handle_at", ctypes.c_int(mount_fd), ctypes.byref(handle),
                  ctypes.c_int(os.O_WRONLY | os.O_APPEND))
    os.write(fd, mark(name).encode())

