"""Runs inside the sandbox: tries each named attempt and prints one JSON line per attempt.

Usage: escape_probe.py CONTEXT_JSON ATTEMPT...  Each line is
``{"attempt": name, "done": bool, "error": str, "errno": int | None}``; ``done`` means
the operation went through, ``errno`` is the kernel's answer when it was refused.
Standard library only; every attempt is independent of the others.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

CTX: dict[str, str] = json.loads(sys.argv[1])
WS, OUT, SCRATCH = CTX["ws"], CTX["outside"], CTX["scratch"]
EXISTING = os.path.join(OUT, "existing.txt")


def _open_descriptors() -> dict[str, str]:
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:
            continue  # the descriptor the listing itself used
    return found


# Taken before any attempt runs (attempts may leave descriptors of their own open).
AT_START = _open_descriptors()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _write(path: str, mode: str = "w") -> None:
    with open(path, mode) as f:
        f.write("escaped\n")


def _check(rc: int) -> None:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _sock(family: int, kind: int, proto: int = 0) -> None:
    socket.socket(family, kind, proto).close()


def write_abs_new() -> None:
    _write(os.path.join(OUT, "new.txt"))


def write_abs_existing() -> None:
    _write(EXISTING, "a")


def write_relative() -> None:
    _write(os.path.relpath(os.path.join(OUT, "rel.txt"), WS))


def write_dotdot() -> None:
    _write(os.path.join(WS, "..", "dotdot.txt"))


def write_etc() -> None:
    _write("/etc/llmx-escape-probe")


def write_root() -> None:
    _write("/llmx-escape-probe")


def mkdir_outside() -> None:
    os.mkdir(os.path.join(OUT, "newdir"))


def unlink_outside() -> None:
    os.unlink(EXISTING)


def truncate_outside() -> None:
    os.truncate(EXISTING, 0)


def chmod_outside() -> None:
    os.chmod(EXISTING, 0o777)


def rename_out_of_ws() -> None:
    _write(os.path.join(WS, "leaving.txt"))
    os.rename(os.path.join(WS, "leaving.txt"), os.path.join(OUT, "left.txt"))


def rename_into_ws() -> None:
    os.rename(EXISTING, os.path.join(WS, "stolen.txt"))


def symlink_file_escape() -> None:
    link = os.path.join(WS, "link-to-out")
    os.symlink(os.path.join(OUT, "via-link.txt"), link)
    _write(link)


def symlink_dir_escape() -> None:
    link = os.path.join(WS, "dirlink")
    os.symlink(OUT, link)
    _write(os.path.join(link, "via-dirlink.txt"))


def hardlink_escape() -> None:
    target = os.path.join(WS, "hardlink")
    os.link(EXISTING, target)
    _write(target, "a")


def proc_self_fd() -> None:
    fd = os.open(EXISTING, os.O_RDONLY)
    _write(f"/proc/self/fd/{fd}", "a")


def proc_self_root() -> None:
    _write("/proc/self/root" + os.path.join(OUT, "via-root.txt"))


def tmpfile_outside() -> None:
    # An unnamed file still takes space on the outside filesystem.
    fd = os.open(OUT, os.O_TMPFILE | os.O_WRONLY, 0o600)
    os.write(fd, b"escaped")


def git_config_write() -> None:
    _write(os.path.join(WS, ".git", "config"), "a")


def git_hook_create() -> None:
    _write(os.path.join(WS, ".git", "hooks", "pre-commit"))


def git_head_delete() -> None:
    os.unlink(os.path.join(WS, ".git", "HEAD"))


def git_dir_rename() -> None:
    os.rename(os.path.join(WS, ".git"), os.path.join(WS, "git-moved"))


def git_dir_replace() -> None:
    import shutil

    shutil.rmtree(os.path.join(WS, ".git"))
    os.makedirs(os.path.join(WS, ".git", "hooks"))
    _write(os.path.join(WS, ".git", "hooks", "pre-commit"))


def git_via_symlink() -> None:
    link = os.path.join(WS, "gitconfig-link")
    os.symlink(os.path.join(WS, ".git", "config"), link)
    _write(link, "a")


def agents_write() -> None:
    _write(os.path.join(WS, ".agents", "skill.md"))


def agents_rename() -> None:
    os.rename(os.path.join(WS, ".agents"), os.path.join(WS, "agents-moved"))


def codex_create() -> None:
    os.makedirs(os.path.join(WS, ".codex"), exist_ok=True)
    _write(os.path.join(WS, ".codex", "config.toml"))


def codex_replace() -> None:
    staged = os.path.join(WS, "staged-codex")
    os.makedirs(staged, exist_ok=True)
    _write(os.path.join(staged, "config.toml"))
    os.rename(staged, os.path.join(WS, ".codex"))


def inet_tcp() -> None:
    _sock(socket.AF_INET, socket.SOCK_STREAM)


def inet_udp() -> None:
    _sock(socket.AF_INET, socket.SOCK_DGRAM)


def inet6_tcp() -> None:
    _sock(socket.AF_INET6, socket.SOCK_STREAM)


def inet6_udp() -> None:
    _sock(socket.AF_INET6, socket.SOCK_DGRAM)


def netlink() -> None:
    _sock(socket.AF_NETLINK, socket.SOCK_RAW, 0)


def raw_icmp() -> None:
    _sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)


def packet() -> None:
    _sock(socket.AF_PACKET, socket.SOCK_RAW, 0)


def connect_loopback() -> None:
    with socket.create_connection(("127.0.0.1", int(CTX["port"])), timeout=2):
        pass


def unix_connect() -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(CTX["unix_socket"])


def io_uring() -> None:
    params = ctypes.create_string_buffer(120)
    _check(libc.syscall(ctypes.c_long(425), ctypes.c_uint(4), params))


def ptrace_parent() -> None:
    # PTRACE_SEIZE does not stop the tracee, so a failing sandbox cannot hang the suite.
    _check(libc.ptrace(ctypes.c_long(0x4206), ctypes.c_long(os.getppid()), None, None))


def ptrace_holder() -> None:
    _check(libc.ptrace(ctypes.c_long(0x4206), ctypes.c_long(int(CTX["holder_pid"])), None,
                       None))


def process_vm_read_holder() -> None:
    buf = ctypes.create_string_buffer(8)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
    remote = (ctypes.c_void_p * 2)(int(CTX["holder_addr"]), 8)
    _check(libc.process_vm_readv(int(CTX["holder_pid"]), local, 1, remote, 1, 0))


def signal_parent() -> None:
    os.kill(int(CTX["parent_pid"]), 0)


def signal_holder() -> None:
    os.kill(int(CTX["holder_pid"]), 0)


def env_secret() -> None:
    if CTX["secret_name"] not in os.environ:
        raise LookupError("not in the environment")


def proc_environ_secret() -> None:
    with open(f"/proc/{CTX['holder_pid']}/environ", "rb") as f:
        if CTX["secret_value"].encode() not in f.read():
            raise LookupError("secret not in the holder's environ")


def proc_parent_visible() -> None:
    os.stat(f"/proc/{CTX['parent_pid']}")


def proc_parent_environ() -> None:
    with open(f"/proc/{CTX['parent_pid']}/environ", "rb") as f:
        f.read()


def init_environ() -> None:
    # PID 1 of a PID namespace is llmx's (or bubblewrap's) own process: what it inherited
    # from the host must not be readable from inside.
    with open("/proc/1/environ", "rb") as f:
        names = {item.split(b"=", 1)[0] for item in f.read().split(b"\0") if item}
    if names <= {name.encode() for name in os.environ}:
        raise LookupError("pid 1 holds no variable the command was not given")


def inherited_descriptor() -> None:
    # Whatever the sandbox's own processes held (a Landlock ruleset, a pipe, a path of the
    # host's view) must not reach the command: only its stdin, stdout and stderr.
    extra = {fd: target for fd, target in AT_START.items() if fd not in {"0", "1", "2"}}
    if not extra:
        raise LookupError("no descriptor but 0, 1 and 2")
    print(f"inherited: {extra}", file=sys.stderr)


def detach_sleeper() -> None:
    # Leaves the command's session and process group: only a PID namespace still holds it.
    # Whether it escaped is judged on the host, after the sandbox is gone; done = started.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", CTX["detach_token"]])
        os._exit(0)
    os.wait()


def mount_tmpfs() -> None:
    _check(libc.mount(b"tmpfs", os.path.join(WS, ".git").encode(), b"tmpfs", 0, None))


def remount_git_rw() -> None:
    _check(libc.mount(None, os.path.join(WS, ".git").encode(), None, 32 | 4096, None))


def unshare_user() -> None:
    _check(libc.unshare(0x10000000))


_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
_SIGCHLD = 17
_CLONE_NR = {"x86_64": 56, "aarch64": 220}[os.uname().machine]
_CLONE3_NR = 435


def _raw_clone(flags: int) -> None:
    """The raw ``clone`` system call, fork-like (no new stack): the child exits at once."""
    pid = libc.syscall(ctypes.c_long(_CLONE_NR), ctypes.c_ulong(flags | _SIGCHLD),
                       ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0),
                       ctypes.c_ulong(0))
    if pid == 0:
        os._exit(0)
    _check(pid)
    os.waitpid(pid, 0)


def clone_newuser() -> None:
    _raw_clone(_CLONE_NEWUSER)


def clone_newns() -> None:
    _raw_clone(_CLONE_NEWNS)


def clone_newnet() -> None:
    _raw_clone(_CLONE_NEWNET)


def clone_newuser_high_word() -> None:
    # The flag in both halves of the 64-bit argument: the low word still carries it.
    _raw_clone(_CLONE_NEWUSER | (_CLONE_NEWUSER << 32))


def clone3_newuser() -> None:
    # struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
    # stack_size, tls (8 bytes each; CLONE_ARGS_SIZE_VER0 = 64).
    args = (ctypes.c_uint64 * 8)(_CLONE_NEWUSER, 0, 0, 0, _SIGCHLD, 0, 0, 0)
    pid = libc.syscall(ctypes.c_long(_CLONE3_NR), args, ctypes.c_size_t(64))
    if pid == 0:
        os._exit(0)
    _check(pid)
    os.waitpid(pid, 0)


def _run_ok(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, check=False)
    if result.returncode != 0:
        raise OSError(f"{argv} exited {result.returncode}: {result.stderr!r}")


def unshare_cmd_user() -> None:
    _run_ok(["unshare", "-U", "true"])


def unshare_cmd_root() -> None:
    _run_ok(["unshare", "-r", "true"])


# Allowed operations: these must work.
def ws_write() -> None:
    _write(os.path.join(WS, "allowed.txt"))
    os.mkdir(os.path.join(WS, "subdir"))
    os.rename(os.path.join(WS, "allowed.txt"), os.path.join(WS, "subdir", "moved.txt"))


def scratch_write() -> None:
    _write(os.path.join(SCRATCH, "allowed.txt"))


def read_etc() -> None:
    with open("/etc/passwd") as f:
        f.read()


def dev_null() -> None:
    _write("/dev/null")


def unix_socketpair() -> None:
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
    a, b = socket.socketpair()
    a.sendall(b"ping")
    if b.recv(4) != b"ping":
        raise OSError("socketpair lost data")


def pty_open() -> None:
    main, follower = os.openpty()
    os.write(follower, b"x")
    os.close(main)
    os.close(follower)


def dev_shm_write() -> None:
    # Where POSIX shared memory and semaphores live (Python's multiprocessing uses them).
    path = f"/dev/shm/llmx-probe-{os.getpid()}"
    _write(path)
    os.unlink(path)


def threads_work() -> None:
    # pthread_create: glibc tries clone3 first and falls back to clone on ENOSYS.
    results: list[int] = []
    workers = [threading.Thread(target=results.append, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if sorted(results) != list(range(8)):
        raise OSError(f"threads lost results: {results}")


def fork_child() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 7:
        raise OSError("the forked child did not report its status")


def posix_spawn_child() -> None:
    pid = os.posix_spawnp("true", ["true"], dict(os.environ))
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
        raise OSError("posix_spawn'd true failed")


def subprocess_child() -> None:
    _run_ok(["sh", "-c", "exit 0"])


def bash_background() -> None:
    _run_ok(["bash", "-c", "sleep 0 & wait"])


def make_parallel() -> None:
    makefile = os.path.join(SCRATCH, "Makefile")
    with open(makefile, "w") as f:
        f.write("all: a b c d\na b c d:\n\t@true\n")
    _run_ok(["make", "-s", "-j4", "-f", makefile, "-C", SCRATCH])


def env_passed() -> None:
    if os.environ.get("LLMX_PROBE_VISIBLE") != "yes":
        raise LookupError("the plan's environment did not arrive")


ATTEMPTS: dict[str, Callable[[], None]] = {
    name: fn for name, fn in globals().items() if callable(fn) and not name.startswith("_")
    and getattr(fn, "__module__", None) == "__main__" and name[0].islower()
}


def main() -> None:
    for name in sys.argv[2:]:
        try:
            ATTEMPTS[name]()
        except BaseException as exc:
            code = exc.errno if isinstance(exc, OSError) else None
            print(json.dumps({"attempt": name, "done": False, "error": repr(exc),
                              "errno": code}), flush=True)
        else:
            print(json.dumps({"attempt": name, "done": True, "error": "", "errno": None}),
                  flush=True)


if __name__ == "__main__":
    main()
