"""``llmx sandbox linux -- CMD``: this process becomes the confined command.

``exec_confined`` turns the calling process into the confined command (the cheapest
path: no extra process, the exit status and signals are the command's own). It needs a
single-threaded caller, which a CLI entry point is. Waiting for the command and reporting
its denials is ``blocking``'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from collections.abc import Mapping

from llmx.sandbox.linux import exec_report, stdio
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.prepare import PreparedCommand, prepare
from llmx.sandbox.plan import ConfinementPlan


def exec_confined(
    argv: list[str],
    *,
    cwd: str | os.PathLike[str],
    plan: ConfinementPlan,
    env: Mapping[str, str] | None = None,
    backend: BackendKind | None = None,
    program: str = exec_report.program,
) -> None:
    """Replace this process by ``argv`` confined by ``plan``; never returns.

    A set-up failure prints one line naming the step and exits 126; a missing command
    exits 127, as a shell would. ``program`` names the command line in those lines.
    """
    exec_report.program = program
    exec_report.on_exec_path = True
    prepared = prepare(argv, cwd=cwd, plan=plan, env=env, backend=backend, exec_path=True)
    os.chdir(prepared.cwd)
    confined = prepared.backend is not None
    if prepared.backend is BackendKind.BWRAP:
        _exit_unless_runnable(prepared, argv[0])
    if confined:
        # Nothing of the caller's but stdin, stdout and stderr reaches the command.
        stdio.keep_only(prepared.pass_fds)
    for fd in prepared.pass_fds:
        os.set_inheritable(fd, True)
    if confined and not prepared.fenced_by_landlock and stdio.reopenable(0):
        piped = stdio.relay(0)
        os.dup2(piped, 0)
        os.close(piped)
    if prepared.backend is BackendKind.LANDLOCK:
        # The command needs a session of its own (no controlling terminal), and this
        # process, a shell's job, may lead its process group, where setsid fails.
        _run_as_child(prepared, new_session=True)
    if prepared.masks is not None and not prepared.masks_released_by_waiter:
        _run_as_child(prepared, new_session=False)
    _set_up_and_exec(prepared)


def _exit_unless_runnable(prepared: PreparedCommand, name: str) -> None:
    """bubblewrap reports a command it cannot start in its own words (and exits 1): look
    the command up first, on the PATH it will be given, and fail as the other backends do."""
    import shutil  # bubblewrap's start costs far more; the other backends never get here

    if shutil.which(name, path=prepared.env.get("PATH", os.defpath)) is not None:
        return
    exists = os.path.exists(name) if "/" in name else any(
        os.path.exists(os.path.join(folder, name))
        for folder in prepared.env.get("PATH", os.defpath).split(os.pathsep))
    code = errno.EACCES if exists else errno.ENOENT
    with contextlib.suppress(OSError):
        os.write(2, exec_report.cannot_run(name, code, os.strerror(code)))
    prepared.close()
    os._exit(126 if exists else 127)


def _set_up_and_exec(prepared: PreparedCommand) -> None:
    """Run the child's set-up in this process, then become the command; never returns."""
    if prepared.preexec is not None:
        if prepared.error_fd is not None:
            # Report set-up failures straight to stderr: no parent reads the pipe.
            os.dup2(2, prepared.pass_fds[0])
        prepared.preexec()
    try:
        os.execvpe(prepared.argv[0], prepared.argv, prepared.env)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.write(2, exec_report.cannot_run(prepared.argv[0], exc.errno or 0,
                                               exc.strerror or str(exc)))
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)


def _run_as_child(prepared: PreparedCommand, *, new_session: bool) -> None:
    """Start the command in a child and stay as its parent, which cleans up afterwards
    (bubblewrap's mask targets) and exits with the command's status; never returns.

    ``new_session``: the child calls ``setsid`` (the landlock backend; bubblewrap makes
    its own). Relays HUP/INT/QUIT/TERM sent to this process, the terminal's among them, to
    the child (its whole group with ``new_session``); bubblewrap dies of them and takes
    its namespace with it.
    """
    from llmx.sandbox.linux import kernel, pidns

    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, *pidns.RELAYED})
    child = os.fork()
    if child == 0:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            if new_session:
                os.setsid()
            _set_up_and_exec(prepared)
        finally:
            os._exit(127)
    code = 126
    try:
        # Without a PID namespace the command can see this process: its environment (the
        # caller's, secrets and all) must not be readable through /proc.
        kernel.prctl(kernel.PR_SET_DUMPABLE, 0)
        code = pidns.wait_relaying(child, relay=os.killpg if new_session else os.kill)
    finally:
        prepared.close()
        os._exit(code)
