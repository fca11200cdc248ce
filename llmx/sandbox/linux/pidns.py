"""The own backend's process tree: a PID namespace, so that killing the sandbox kills all of it.

A process group is not a boundary: a command that calls ``setsid`` (or double-forks into
a new session) leaves it and would outlive a cancelled turn. A PID namespace is one: when
its PID 1 exits, the kernel kills every process left in it. So the child that entered the
user and mount namespaces forks twice, without exec:

- the *waiter* stays outside the new PID namespace (it is the process the caller spawned,
  or the caller itself on the exec path). It waits for the init and exits with its status;
  killing it kills the init (``PR_SET_PDEATHSIG``), which kills the namespace.
- the *init* is PID 1 of the namespace: it mounts a ``/proc`` of that namespace (so the
  command sees and can signal only its own processes), forks the command, reaps orphans
  and exits with the command's status (128+N for a death by signal N).
- the *command* is PID 2; it finishes the set-up (Landlock, capabilities, seccomp) and
  execs.

Neither the waiter nor the init runs anything but this module: both keep the terminal
signals blocked and read them with ``sigwaitinfo``, so a signal meant for the command
cannot kill the bookkeeping around it.
"""

from __future__ import annotations

import contextlib
import os
import signal

from llmx.sandbox.linux import kernel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Signals a user or a supervisor sends to stop a command; the exec path relays them.
RELAYED = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)
# ``si_code`` of a signal the kernel generated, such as the terminal's ^C: it went to the
# whole foreground process group, the command included, so it must not be relayed again.
_SI_KERNEL = 0x80
# The waiter relays signal RELAYED[i] to the init as SIGRTMIN+i: PID 1 of a namespace only
# receives signals it has a handler for, and these are ones nobody else sends it.
_RELAY_BASE = signal.SIGRTMIN
_PROC_FLAGS = kernel.MS_NOSUID | kernel.MS_NODEV | kernel.MS_NOEXEC | kernel.MS_RDONLY


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _ignore(_signum: int, _frame: object) -> None:
    """Installed only so that the init (PID 1) is sent the relay signals at all."""


def split(*, relay: bool, last_cap: int, after_exit: Callable[[], None] | None = None) -> None:
    """Fork the init and the command; returns only in the command, at PID 2.

    Call in a single-threaded process that has unshared ``CLONE_NEWPID``. ``relay`` makes
    the waiter pass HUP, INT, QUIT and TERM sent to it (not those of the terminal) on to the
    command: needed when the waiter is the process a user holds (the exec path), not when
    a supervisor signals the command's process group itself. ``after_exit`` runs in the
    waiter once the namespace is gone.
    """
    watched: set[int] = {signal.SIGCHLD, *RELAYED}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    init = os.fork()
    if init == 0:
        _become_init(old_mask, last_cap)
        return
    code = 126
    try:
        _close_inherited()
        code = _wait(init, watched, relay)
        if after_exit is not None:
            after_exit()
    finally:
        os._exit(code)


def _close_inherited() -> None:
    # Among them is the write end of ``subprocess``'s exec-status pipe: its reader waits
    # for every copy to close, which the waiter and the init, never exec'ing, would not do.
    os.closerange(3, 1 << 20)


def _wait(init: int, watched: set[int], relay: bool) -> int:
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            pid, status = os.waitpid(init, os.WNOHANG)
            if pid == init:
                return exit_code(status)
        elif relay and info.si_code != _SI_KERNEL and info.si_pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(init, _RELAY_BASE + RELAYED.index(signal.Signals(info.si_signo)))


def _become_init(old_mask: set[int], last_cap: int) -> None:
    kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
    kernel.mount("proc", "/proc", "proc", _PROC_FLAGS)
    relays = {_RELAY_BASE + i: sig for i, sig in enumerate(RELAYED)}
    for number in relays:
        signal.signal(number, _ignore)
    signal.pthread_sigmask(signal.SIG_BLOCK, relays)
    command = os.fork()
    if command == 0:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, signal.SIGKILL)
        for number in relays:
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        return
    code = 126
    try:
        _close_inherited()
        # The command sees this process as PID 1: leave it nothing to read or borrow.
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        kernel.drop_all_capabilities(last_cap)
        code = _reap(command, {signal.SIGCHLD, *relays}, relays)
    finally:
        os._exit(code)


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
