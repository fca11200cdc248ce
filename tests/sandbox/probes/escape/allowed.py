"""What a confined command must still be able to do. Each writes its evidence under
``ws/.results/NAME`` (the host checks the evidence, not the probe's word)."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import threading

from common import SCRATCH, WS, mark
from common import write as _write

RESULTS = os.path.join(WS, ".results")


def _evidence(name: str, text: str) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name), "w") as f:
        f.write(text)


def _run_ok(argv: list[str], cwd: str | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, check=False, cwd=cwd, timeout=60)
    if result.returncode != 0:
        raise OSError(f"{argv} exited {result.returncode}: {result.stderr[-300:]!r}")
    return result.stdout.decode(errors="replace")


def ws_write(name: str) -> None:
    os.makedirs(os.path.join(WS, "subdir"), exist_ok=True)
    staged = os.path.join(WS, f"{name}.tmp")
    _write(staged, name)
    os.rename(staged, os.path.join(WS, "subdir", f"{name}.txt"))
    _evidence(name, mark(name))


def scratch_write(name: str) -> None:
    _write(os.path.join(SCRATCH, f"{name}.txt"), name)
    _evidence(name, mark(name))


def read_etc(name: str) -> None:
    with open("/etc/passwd") as f:
        _evidence(name, f.readline())


def dev_null(name: str) -> None:
    _write("/dev/null", name)
    _evidence(name, "written")


def unix_socketpair(name: str) -> None:
    first, second = socket.socketpair()
    first.sendall(mark(name).encode())
    _evidence(name, second.recv(100).decode())


def seqpacket_pair(name: str) -> None:
    first, second = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    first.send(mark(name).encode())
    _evidence(name, second.recv(100).decode())


def pty_open(name: str) -> None:
    main, follower = os.openpty()
    os.write(follower, mark(name).encode())
    _evidence(name, os.read(main, 100).decode())


def dev_shm_write(name: str) -> None:
    # Where POSIX shared memory and semaphores live.
    path = f"/dev/shm/llmx-probe-{os.getpid()}"
    with open(path, "w") as f:
        f.write(mark(name))
    with open(path) as f:
        _evidence(name, f.read().strip())
    os.unlink(path)


def threads_work(name: str) -> None:
    # pthread_create: glibc tries clone3 first and falls back to clone on ENOSYS.
    results: list[int] = []
    workers = [threading.Thread(target=results.append, args=(n,)) for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    _evidence(name, " ".join(map(str, sorted(results))))


def fork_child(name: str) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _evidence(name, str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])))


def posix_spawn_child(name: str) -> None:
    pid = os.posix_spawnp("true", ["true"], dict(os.environ))
    _evidence(name, str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])))


def subprocess_child(name: str) -> None:
    _evidence(name, _run_ok(["sh", "-c", f"echo {mark(name)}"]).strip())


def bash_background(name: str) -> None:
    _evidence(name, _run_ok(["bash", "-c", f"sleep 0 & wait; echo {mark(name)}"]).strip())


def make_parallel(name: str) -> None:
    makefile = os.path.join(SCRATCH, "Makefile")
    with open(makefile, "w") as f:
        f.write("all: a b c d\na b c d:\n\t@echo $@\n")
    out = _run_ok(["make", "-s", "-j4", "-f", makefile, "-C", SCRATCH])
    _evidence(name, " ".join(sorted(out.split())))


def git_log(name: str) -> None:
    _evidence(name, _run_ok(["git", "log", "--format=%s"], cwd=WS).strip())


def _square(n: int) -> int:
    return n * n


def multiprocessing_pool(name: str) -> None:
    # Semaphores in /dev/shm, pipes, forked workers: what a Python test suite uses.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        _evidence(name, " ".join(map(str, pool.map(_square, range(4)))))
