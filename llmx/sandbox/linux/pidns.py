"""The own backend's process tree: a PID namespace, so that killing the sandbox kills all of it.

A process group is not a boundary: a command that calls ``setsid`` (or double-forks into
a new session) leaves it and would outlive a cancelled turn. A PID namespace is one: when
its PID 1 exits, the kernel kills every process left in it. So the child that entered the
user and mount namespaces forks once, without exec:

- the *waiter* stays outside the new PID namespace (it is the process the caller spawned,
  or the caller itself on the exec path). It waits for the init and exits with its status;
  killing it kills the init (``PR_SET_PDEATHSIG``), which kills the namespace.
- the *init* is PID 1 of the namespace: it mounts a ``/proc`` of that namespace (so the
  command sees and can signal only its own processes), confines itself (Landlock,
  capabilities, seccomp: all inherited by what it starts), starts the command with
  ``posix_spawn``, reaps orphans and exits with the command's status (128+N for a death by
  signal N). For ``run_confined`` it first kills and reaps the rest of the namespace and
  reports that status on a pipe, so the caller need not wait for the two exits.
- the *command* is PID 2. It is not PID 1 because PID 1 ignores every signal it has no
  handler for, even one it sends itself: a command killing itself with ``SIGTERM`` would
  go on running. ``posix_spawn`` (a ``vfork``-style clone) starts it without copying the
  interpreter's page tables, which a second ``fork`` would.

Neither the waiter nor the init runs anything but this module: both keep the terminal
signals blocked and read them with ``sigwaitinfo``, so a signal meant for the command
cannot kill the bookkeeping around it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence

from llmx.sandbox.linux import exec_report, kernel

# Signals a user or a supervisor sends to stop a command; the exec path relays them. The
# command runs in a session of its own (no controlling terminal it could type into), so
# the terminal's ^C reaches only the waiter, which relays it too.
RELAYED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)
# The waiter relays signal RELAYED[i] to the init as SIGRTMIN+i: PID 1 of a namespace only
# receives signals it has a handler for, and these are ones nobody else sends it.
_RELAY_BASE = signal.SIGRTMIN
_PROC_FLAGS = kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_NOEXEC | kernel.MS_RDONLY
# Python ignores these; a command expects them at their defaults (as ``subprocess`` does).
_RESTORED = (signal.SIGPIPE, signal.SIGXFSZ)


class SpawnFailed(Exception):
    """The init could not start the command (``errno`` as for ``execvp``)."""


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _ignore(_signum: int, _frame: object) -> None:
    """Installed only so that the init (PID 1) is sent the relay signals at all."""


def split(
    *,
    relay: bool,
    confine: Callable[[], None],
    argv: Sequence[str],
    env: Mapping[str, str],
    report: Callable[[str, BaseException], None],
    init_fds: tuple[int, ...] = (),
    keep_fds: tuple[int, ...] = (),
    after_exit: Callable[[], None] | None = None,
    status_fd: int | None = None,
) -> None:
    """Fork the init, which confines itself and spawns ``argv``; never returns.

    Call in a single-threaded process that has unshared ``CLONE_NEWPID``. ``confine`` runs
    in the init after ``/proc`` is mounted (a failure there is passed to ``report`` with
    its step, and nothing runs). ``relay`` makes the waiter pass HUP, INT, QUIT and TERM
    sent to it (not those of the terminal) on to the command: needed when the waiter is
    the process a user holds (the exec path), not when a supervisor signals the command's
    process group itself. ``init_fds`` are the descriptors the init keeps open (the rest
    are closed before the command starts). ``after_exit`` runs in the waiter once the
    namespace is gone; ``keep_fds`` are the descriptors it needs for that.

    ``status_fd`` (in ``init_fds``): once the command has exited, the init kills and reaps
    everything else in the namespace, then writes the command's exit code there as one
    byte, before its own exit. The caller can return on that byte without waiting for the
    init's and the waiter's teardown (both then hold none of the command's stdio).
    """
    watched: set[int] = {signal.SIGCHLD, *RELAYED}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    init = kernel.fork()
    if init == 0:
        # The waiter of ``run_confined`` is a session leader already (``subprocess``'s
        # ``start_new_session``), and stays in the init's process group, so that killing
        # that group kills the init at once; on the exec path the waiter is llmx itself,
        # which may hold the user's terminal.
        _become_init(old_mask, init_fds, confine, argv, env, report, status_fd,
                     new_session=relay)
    code = 126
    try:
        _close_inherited(keep_fds)
        if status_fd is not None:
            # The caller reads the output to EOF: this process writes none of it.
            _close_stdio()
        code = wait_relaying(init, relay=_to_init if relay else None)
        if after_exit is not None:
            after_exit()
    finally:
        os._exit(code)


def become_init(
    *,
    confine: Callable[[], None],
    argv: Sequence[str],
    env: Mapping[str, str],
    report: Callable[[str, BaseException], None],
    init_fds: tuple[int, ...],
    status_fd: int | None,
) -> None:
    """``split``'s init, for a process that is PID 1 of its namespace already (cloned
    there by the spawn server, which waits for it as ``split``'s waiter would)."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *RELAYED})
    # The spawn server's child has made its own session already.
    _become_init(old_mask, init_fds, confine, argv, env, report, status_fd,
                 new_session=False)


def _close_inherited(keep: tuple[int, ...] = ()) -> None:
    # Among them is the write end of ``subprocess``'s exec-status pipe: its reader waits
    # for every copy to close, which the waiter and the init, never exec'ing, would not do.
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _close_stdio() -> None:
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            os.close(fd)


def _to_init(pid: int, signum: int) -> None:
    os.kill(pid, _RELAY_BASE + RELAYED.index(signal.Signals(signum)))


def wait_relaying(child: int, *, relay: Callable[[int, int], None] | None) -> int:
    """Wait for ``child`` (``SIGCHLD`` and ``RELAYED`` blocked by the caller) and return its
    exit code; with ``relay``, pass on each relayed signal a process sent to this one."""
    watched = {signal.SIGCHLD, *RELAYED}
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid == child:
                return exit_code(status)
        elif relay is not None and info.si_pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                relay(child, info.si_signo)


def _become_init(old_mask: set[int], keep: tuple[int, ...], confine: Callable[[], None],
                 argv: Sequence[str], env: Mapping[str, str],
                 report: Callable[[str, BaseException], None],
                 status_fd: int | None, *, new_session: bool) -> None:
    """The init's life: confine, spawn the command, reap until it ends, exit with its
    status (126 after a failed step); never returns."""
    code = 126
    step = "pid namespace"
    try:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        if new_session:
            # No controlling terminal: the command cannot open the caller's terminal
            # (/dev/tty), nor type into it through an inherited descriptor.
            os.setsid()
        _close_inherited(keep)
        kernel.mount("proc", "/proc", "proc", _PROC_FLAGS)
        relays = {_RELAY_BASE + i: sig for i, sig in enumerate(RELAYED)}
        for number in relays:
            signal.signal(number, _ignore)
        signal.pthread_sigmask(signal.SIG_BLOCK, relays)
        step = "confinement"
        confine()
        # The command sees this process as PID 1: leave it nothing to read or borrow.
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        step = "spawn"
        command = _spawn(argv, env, old_mask)
    except SpawnFailed as exc:
        code = _report_spawn_failure(argv[0], exc)
        os._exit(code)
    except BaseException as exc:
        report(step, exc)
        os._exit(code)
    try:
        if status_fd is not None:
            _close_stdio()
        code = _reap(command, {signal.SIGCHLD, *relays}, relays)
        if status_fd is not None:
            _report_status(status_fd, code)
    finally:
        os._exit(code)


def _report_status(fd: int, code: int) -> None:
    """Kill and reap what is left in the namespace, then tell the caller ``code``.

    After this, only this process (exiting, with no other descriptors of the caller's
    open) remains of the sandbox: what the caller relies on when it returns on the byte.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)  # every process of the namespace but PID 1
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    # What is left is this process's exit and the namespaces' teardown: at idle priority
    # they yield the CPU to the caller the byte wakes, on a machine with few cores.
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.write(fd, bytes((code & 0xFF,)))


def _spawn(argv: Sequence[str], env: Mapping[str, str], mask: set[int]) -> int:
    """``execvp`` semantics (``PATH`` of the command's environment), without a fork."""
    name = argv[0]
    if "/" in name:
        candidates = [name]
    else:
        folders = env.get("PATH", os.defpath).split(os.pathsep)
        candidates = [os.path.join(folder or ".", name) for folder in folders]
    failure: OSError | None = None
    for path in candidates:
        try:
            # A failed spawn costs a clone, an execve and a wait; a stat says as much
            # for a name that is not there (the usual case for all but one PATH entry).
            os.stat(path)
        except (FileNotFoundError, NotADirectoryError) as exc:
            failure = failure if isinstance(failure, PermissionError) else exc
            continue
        except OSError:
            pass  # whatever it is, the spawn reports it as execve would
        try:
            return os.posix_spawn(path, list(argv), env, setsigmask=mask,
                                  setsigdef=_RESTORED)
        except (FileNotFoundError, NotADirectoryError) as exc:
            failure = failure if isinstance(failure, PermissionError) else exc
        except PermissionError as exc:
            failure = exc
        except OSError as exc:
            raise SpawnFailed(exc.errno, exc.strerror) from None
    assert failure is not None
    raise SpawnFailed(failure.errno, failure.strerror)


def _report_spawn_failure(name: str, exc: SpawnFailed) -> int:
    with contextlib.suppress(OSError):
        os.write(2, exec_report.cannot_run(name, exc.args[0], exc.args[1]))
    # What a shell reports: 127 for a command not found, 126 for one it cannot run.
    return 127 if exc.args[0] in {2, 20} else 126


def _reap(command: int, watched: set[int], relays: dict[int, signal.Signals]) -> int:
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo in relays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(command, relays[info.si_signo])
            continue
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return 126
            if pid == 0:
                break
            if pid == command:
                # Exiting makes the kernel kill whatever the command left behind.
                return exit_code(status)
