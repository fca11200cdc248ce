"""From a plan to a ready-to-spawn command: argv, environment, child set-up, clean-up.

Shared by the async API (``spawn``) and the blocking one (``blocking``). Everything that
can fail for a reason the user can fix (a missing cwd, a protected path that is a symlink,
no backend able to enforce the plan) fails here, before any process exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from llmx.sandbox.linux import (
    bwrap,
    exec_report,
    kernel,
    landlock,
    mask_targets,
    namespaces,
    seccomp,
)
from llmx.sandbox.linux.backends import BackendKind, UnenforceablePlan, choose_backend
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess
from llmx.sandbox.value import Value

_filters: dict[bool, bytes] = {}


class PreparedCommand:
    """A command ready for ``subprocess``/``os.execve``; call ``close`` once it has exited."""

    __slots__ = (
        "_owned_fds",
        "argv",
        "backend",
        "child_fds",
        "child_setup",
        "cwd",
        "env",
        "error_fd",
        "masks",
        "masks_released_by_waiter",
        "pass_fds",
        "status_fd",
    )

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        backend: BackendKind | None,
        pass_fds: tuple[int, ...] = (),
        child_fds: tuple[int, ...] = (),
        error_fd: int | None = None,
        _owned_fds: list[int] | None = None,
        masks: mask_targets.MaskRegistration | None = None,
        masks_released_by_waiter: bool = False,
        status_fd: int | None = None,
        child_setup: namespaces.ChildSetup | None = None,
    ) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.backend = backend
        self.pass_fds = pass_fds
        # Descriptors the child uses before exec but must not pass on (``O_CLOEXEC``).
        self.child_fds = child_fds
        # Read end of the pipe on which the child reports a failed set-up.
        self.error_fd = error_fd
        self._owned_fds = [] if _owned_fds is None else _owned_fds
        # Mount points made for missing protected paths (``.git``, ``.agents``, ``.codex``);
        # see ``mask_targets``.
        self.masks = masks
        # The exec path of the own backend: the waiter, not this object, releases ``masks``.
        self.masks_released_by_waiter = masks_released_by_waiter
        # Read end of the pipe on which the own backend's init reports the command's exit code
        # (one byte) once nothing else of the sandbox runs; see ``pidns.split``.
        self.status_fd = status_fd
        # What the child does before exec (own and Landlock backends): run as ``preexec`` by
        # a forked child, or sent to the spawn server.
        self.child_setup = child_setup

    @property
    def preexec(self) -> Callable[[], None] | None:
        """The ``preexec_fn`` that sets the child up (None: nothing to set up)."""
        setup = self.child_setup
        if setup is not None:
            return lambda: namespaces.run_in_child(setup)
        if self.backend is BackendKind.BWRAP:
            return _before_bwrap
        return None

    @property
    def fenced_by_landlock(self) -> bool:
        """Whether Landlock checks the path of a file the command reopens by descriptor."""
        return self.child_setup is not None and self.child_setup.landlock_ruleset is not None

    def setup_error(self) -> str | None:
        """The child's set-up failure, if it reported one (read after the child is gone)."""
        if self.error_fd is None:
            return None
        os.set_blocking(self.error_fd, False)
        try:
            data = os.read(self.error_fd, 65536)
        except BlockingIOError:
            return None
        return data.decode(errors="replace") or None

    def close_child_side(self) -> None:
        """Close the fds only the child needed (call right after the spawn)."""
        for fd in (*self.pass_fds, *self.child_fds):
            if fd in self._owned_fds:
                os.close(fd)
                self._owned_fds.remove(fd)

    def close(self, *, linger: bool = False) -> None:
        """``linger``: the caller lives on and may run the next command soon (a session):
        its mask targets stay a moment for that one to adopt (``mask_targets``)."""
        for fd in self._owned_fds:
            os.close(fd)
        self._owned_fds.clear()
        # The last command using a mask target removes it, so the workspace looks as it did.
        if self.masks is not None:
            masks, self.masks = self.masks, None
            mask_targets.release(masks, linger=linger)


def _before_bwrap() -> None:
    """bubblewrap runs nothing of ours after its own set-up: what it does not do is done
    before it starts, and inherited. A failure ends the child (exit 126, as a set-up
    failure of the other backends), never lets bubblewrap start without it."""
    try:
        kernel.join_fresh_session_keyring()
    except OSError as exc:
        os.write(2, exec_report.setup_failed(f"session keyring: {exc.strerror}"))
        os._exit(126)


def seccomp_program(restrict_network: bool) -> bytes:
    if restrict_network not in _filters:
        _filters[restrict_network] = seccomp.build_filter(restrict_network=restrict_network)
    return _filters[restrict_network]


def _caller_terminals() -> tuple[str, ...]:
    """The pseudo-terminals among this process's stdin, stdout and stderr."""
    found = []
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                found.append(os.ttyname(fd))
        except OSError:
            continue
    return tuple(dict.fromkeys(path for path in found if path.startswith("/dev/pts/")))


def _first_missing(path: Path, root: Path) -> Path:
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if not os.path.lexists(current):
            return current
    return path


def _empty_dir(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return not path.is_symlink() and next(entries, None) is None
    except OSError:
        return False


class _Layout(Value):
    __slots__ = ("denied_dirs", "denied_files", "masked_missing", "pinned", "read_only", "writable")

    def __init__(
        self,
        writable: tuple[str, ...],
        read_only: tuple[str, ...],
        masked_missing: tuple[str, ...],
        denied_dirs: tuple[str, ...],
        denied_files: tuple[str, ...],
        pinned: tuple[str, ...] = (),
    ) -> None:
        self.writable = writable
        self.read_only = read_only
        self.masked_missing = masked_missing
        self.denied_dirs = denied_dirs
        self.denied_files = denied_files
        self.pinned = pinned


def _pinned(writable: list[str], protected: list[str]) -> tuple[str, ...]:
    """The folders to bind onto themselves so that none can be renamed (a mount point
    cannot be): every folder between a protected path and the outermost writable root
    holding it. Renaming one would move the protected path away from where the user
    finds it next, and leave a folder the command fills in its place (a workspace under
    /tmp, with /tmp writable)."""
    roots = [Path(r) for r in writable]
    found: dict[str, None] = {}
    for raw in protected:
        path = Path(raw)
        holders = [r for r in roots if r in path.parents]
        if not holders:
            continue
        outer = min(holders, key=lambda r: len(r.parts))
        for folder in path.parents:
            if folder == outer:
                break
            if folder not in roots:
                found.setdefault(str(folder), None)
    return tuple(sorted(found, key=lambda p: len(Path(p).parts)))


def _layout(plan: ConfinementPlan) -> _Layout:
    writable: list[str] = []
    read_only: list[str] = []
    masked: list[str] = []
    for root in plan.writable_roots:
        if not root.path.is_dir():
            continue  # a mount needs an existing target; a missing root grants nothing
        real = Path(os.path.realpath(root.path))
        writable.append(str(real))
        for sub in root.read_only_subpaths:
            sub_real = real / sub.relative_to(root.path) if sub.is_relative_to(root.path) else sub
            if sub_real.is_symlink():
                raise UnenforceablePlan(
                    f"cannot keep {sub} read-only: it is a symlink inside the writable root "
                    f"{root.path}", "replace the symlink, or drop the root")
            if _empty_dir(sub_real):
                # Maybe a mask target of a concurrent or crashed run: masked like a
                # missing name, so that the last run removes it (``mask_targets``).
                masked.append(str(sub_real))
            elif os.path.lexists(sub_real):
                read_only.append(str(sub_real))
            else:
                masked.append(str(_first_missing(sub_real, real)))
    dirs, files = [], []
    for path in plan.denied_paths:
        if path.is_dir():
            dirs.append(str(path))
        elif os.path.lexists(path):
            files.append(str(path))
    return _Layout(tuple(writable), tuple(read_only), tuple(masked), tuple(dirs), tuple(files),
                   _pinned(writable, read_only + masked))


def prepare(
    argv: list[str],
    *,
    cwd: str | os.PathLike[str],
    plan: ConfinementPlan,
    env: Mapping[str, str] | None = None,
    backend: BackendKind | None = None,
    exec_path: bool = False,
    report_status: bool = False,
) -> PreparedCommand:
    """Resolve the backend and build everything the spawn needs; raises ``UnenforceablePlan``.

    ``report_status``: the own backend's init reports the exit code on ``status_fd``.

    ``exec_path``: the calling process itself enters the sandbox (``exec_confined``), so it
    is what a user signals, and what must clean up after the command.
    """
    if not argv:
        raise ValueError("no command given")
    cwd_str = os.fspath(cwd)
    if not os.path.isdir(cwd_str):
        raise FileNotFoundError(f"working directory {cwd_str} does not exist")
    child_env = dict(plan.env if env is None else env)
    if plan.unconfined:
        return PreparedCommand(list(argv), child_env, cwd_str, None)
    kind = choose_backend(plan, backend).kind
    layout = _layout(plan)
    masks = _register_masks(layout.masked_missing)
    kept = () if masks is None else masks.paths
    if kept != layout.masked_missing:
        # Left out: names this user cannot create at all (``mask_targets.register``).
        layout = _Layout(layout.writable, layout.read_only, kept, layout.denied_dirs,
                         layout.denied_files, _pinned(list(layout.writable),
                                                      [*layout.read_only, *kept]))
    try:
        return _prepare_confined(argv, cwd_str, child_env, plan, kind, layout, masks,
                                 exec_path, report_status and not exec_path)
    except BaseException:
        if masks is not None:
            mask_targets.release(masks)
        raise


def _register_masks(paths: tuple[str, ...]) -> mask_targets.MaskRegistration | None:
    if not paths:
        return None
    try:
        registration = mask_targets.register(paths)
        if not registration.targets:
            mask_targets.release(registration)
            return None
        return registration
    except OSError as exc:
        raise UnenforceablePlan(f"cannot keep {paths[0]} from being created: "
                                f"{exc.strerror or exc}",
                                "check that its folder can be written, or create it "
                                "yourself") from None


def _prepare_confined(
    argv: list[str], cwd_str: str, child_env: dict[str, str], plan: ConfinementPlan,
    kind: BackendKind, layout: _Layout, masks: mask_targets.MaskRegistration | None,
    exec_path: bool, report_status: bool,
) -> PreparedCommand:
    restrict_network = plan.network is NetworkAccess.RESTRICTED
    program = seccomp_program(restrict_network)
    if kind is BackendKind.BWRAP:
        path = bwrap.find_bwrap(cwd_str)
        if path is None:
            raise UnenforceablePlan("bwrap not found on PATH outside the working directory",
                                    "install bubblewrap, or choose another --backend")
        seccomp_fd = seccomp.filter_memfd(program)
        readable = None if plan.readable_roots is None else tuple(map(str, plan.readable_roots))
        full_argv = bwrap.build_argv(
            path, command=list(argv), cwd=cwd_str, readable_roots=readable,
            writable_roots=layout.writable, read_only_binds=layout.read_only,
            masked_missing=layout.masked_missing, denied_dirs=layout.denied_dirs,
            denied_files=layout.denied_files, restrict_network=restrict_network,
            seccomp_fd=seccomp_fd, pinned=layout.pinned)
        return PreparedCommand(full_argv, child_env, cwd_str, kind, pass_fds=(seccomp_fd,),
                               _owned_fds=[seccomp_fd], masks=masks)
    own = kind is BackendKind.NAMESPACES
    abi = landlock.abi_version()
    ruleset: int | None = None
    own_writable: tuple[str, ...] = ()
    if abi:
        readable_paths = ("/",) if plan.readable_roots is None else (
            *map(str, plan.readable_roots), *bwrap.PLATFORM_READ_ROOTS)
        # Not all of /dev/pts: the user's other terminals are there. On the exec path the
        # command writes on the caller's own terminal, also when it opens it by name
        # (``/dev/stdout``); no new pseudo-terminal is usable.
        devices: tuple[str, ...] = (*landlock.WRITABLE_DEVICES,
                                    *(_caller_terminals() if exec_path else ()))
        if own:
            # Built here, where it costs no copy-on-write faults; the child adds what its
            # own /dev holds (``/dev/ptmx`` is a link into its devpts there).
            devices = tuple(d for d in landlock.WRITABLE_DEVICES if d != "/dev/ptmx")
            own_writable = ("/dev/ptmx", *landlock.WRITABLE_DEVICE_DIRS)
        ruleset = landlock.build_ruleset(landlock.LandlockRules(
            abi, readable_paths, (*layout.writable, *devices), restrict_network))
    owned: list[int] = [] if ruleset is None else [ruleset]
    try:
        error_r, error_w = os.pipe2(os.O_CLOEXEC)
        owned += (error_r, error_w)
        status_r = status_w = None
        if own and report_status:
            status_r, status_w = os.pipe2(os.O_CLOEXEC)
            owned += (status_r, status_w)
    except BaseException:
        for fd in owned:
            os.close(fd)
        raise
    waiter_cleans = own and exec_path and masks is not None

    def after_exit() -> None:
        assert masks is not None
        mask_targets.release(masks, unmount=True)

    setup = namespaces.ChildSetup(
        uid=os.getuid(), gid=os.getgid(), cwd=cwd_str,
        namespaces=kind is BackendKind.NAMESPACES, restrict_network=restrict_network,
        writable_roots=layout.writable, read_only_binds=layout.read_only,
        masked_missing=layout.masked_missing, denied_dirs=layout.denied_dirs,
        denied_files=layout.denied_files, pinned=layout.pinned,
        read_only_remounts=namespaces.read_only_remounts(layout.writable) if own else (),
        landlock_ruleset=ruleset, landlock_abi=abi,
        landlock_own_writable=own_writable, seccomp_program=program,
        last_cap=kernel.last_capability(), error_fd=error_w,
        argv=tuple(argv) if own else (), env=child_env if own else {},
        relay_signals=exec_path,
        waiter_fds=(masks.root_fd,) if waiter_cleans and masks is not None else (),
        after_exit=after_exit if waiter_cleans else None, status_fd=status_w)
    return PreparedCommand(
        list(argv), child_env, cwd_str, kind,
        pass_fds=(error_w,) if status_w is None else (error_w, status_w),
        child_fds=() if ruleset is None else (ruleset,), error_fd=error_r,
        _owned_fds=owned, masks=masks, masks_released_by_waiter=waiter_cleans,
        status_fd=status_r, child_setup=setup)
