"""A missing ``.codex`` is masked on a synthetic mount target that leaves no trace.

Real processes throughout: commands that try to create ``.codex`` from inside, a command
killed with SIGKILL, a cancelled run, the exec path (``python -m llmx sandbox linux``),
concurrent commands in one workspace, and a crashed run that left its marker behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.linux_sandbox import backend_params, protected, workspace_plan
from support.waits import WAIT_SECONDS, wait_until, within

from llmx.sandbox.linux import mask_targets
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.mask_targets import path_key, registry_root
from llmx.sandbox.linux.spawn import run_confined

PROJECT = Path(__file__).resolve().parents[2]
# Every way of making ``.codex`` appear from inside; each must fail.
ATTEMPTS = (
    "mkdir -p .codex/x; touch .codex/config.toml; echo x > .codex/config.toml; "
    "mkdir staged; mv staged .codex; mv -T staged .codex; rmdir .codex; rm -rf .codex; "
    "ln -s /tmp .codex; "
)
PROBE = ATTEMPTS + "ls -A .codex 2>/dev/null | wc -l > probe.out; exit 0"

# The Landlock backend refuses plans with protected paths: it never masks anything.
MASKED = [p for p in backend_params() if getattr(p, "id", None) != BackendKind.LANDLOCK.value]


def _traces(ws: Path) -> list[str]:
    found = []
    for name in (".git", ".agents", ".codex"):
        if (ws / name).exists():
            found.append(f"the {name} mount target")
        marker_dir = Path(registry_root()) / path_key(str(ws / name))
        try:
            markers = sorted(os.listdir(marker_dir))
        except FileNotFoundError:
            continue  # never made, or removed by its last owner meanwhile
        found.append(f"markers {markers} of {name}")
    return found


def _no_trace(ws: Path) -> None:
    # A session's claim lingers a moment after its command, for the next one to adopt
    # (``mask_targets.LINGER_SECONDS``); then nothing may be left.
    wait_until(lambda: not _traces(ws), "the mask targets and markers to go")


def _wait_for(path: Path) -> None:
    wait_until(path.exists, f"{path.name} to appear")


def _codex_stayed_empty(ws: Path) -> None:
    assert (ws / "probe.out").read_text().strip() == "0"
    assert not (ws / "staged" / "config.toml").exists()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", MASKED)
async def test_normal_exit_leaves_no_trace(backend: BackendKind, tmp_path: Path) -> None:
    result = await within(run_confined(["sh", "-c", PROBE], cwd=tmp_path,
                                       plan=workspace_plan(protected(tmp_path)), backend=backend),
                          "the probe")
    assert result.exit_code == 0, result.aggregated
    _codex_stayed_empty(tmp_path)
    _no_trace(tmp_path)


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", MASKED)
async def test_mount_target_is_never_mode_0555(backend: BackendKind, tmp_path: Path) -> None:
    # Seen from the host while the command runs: an ordinary directory of the umask.
    umask = os.umask(0o22)
    os.umask(umask)

    async def look() -> int:
        task = asyncio.create_task(run_confined(
            ["sh", "-c", "touch started; sleep 5"], cwd=tmp_path,
            plan=workspace_plan(protected(tmp_path)), backend=backend))
        await asyncio.to_thread(_wait_for, tmp_path / "started")
        mode = (tmp_path / ".codex").stat().st_mode & 0o777
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await within(task, "the cancelled command to end")
        return mode

    assert await look() == 0o777 & ~umask
    _no_trace(tmp_path)


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", MASKED)
async def test_sigkill_of_the_command_leaves_no_trace(backend: BackendKind,
                                                      tmp_path: Path) -> None:
    result = await within(run_confined(["sh", "-c", ATTEMPTS + "kill -KILL $$"], cwd=tmp_path,
                                       plan=workspace_plan(protected(tmp_path)), backend=backend),
                          "the killed command")
    assert result.exit_code == 128 + 9
    _no_trace(tmp_path)


@pytest.mark.parametrize("backend", MASKED)
def test_cancellation_leaves_no_trace(backend: BackendKind, tmp_path: Path) -> None:
    async def start_then_cancel() -> None:
        task = asyncio.create_task(run_confined(
            ["sh", "-c", ATTEMPTS + "touch ready; sleep 600"], cwd=tmp_path,
            plan=workspace_plan(protected(tmp_path)), backend=backend))
        await asyncio.to_thread(_wait_for, tmp_path / "ready")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await within(task, "the cancelled command to end")

    asyncio.run(start_then_cancel())
    _no_trace(tmp_path)


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", MASKED)
async def test_concurrent_commands_share_the_target(backend: BackendKind,
                                                    tmp_path: Path) -> None:
    # The first finishes while the others still run; they must stay masked after it left.
    plan = workspace_plan(protected(tmp_path))
    first = run_confined(["sh", "-c", "touch first.started; exit 0"], cwd=tmp_path,
                         plan=plan, backend=backend)
    later = [
        run_confined(["sh", "-c", f"while [ ! -e first.done ]; do sleep 0.01; done; "
                      f"{ATTEMPTS} ls -A .codex 2>/dev/null | wc -l > probe{i}.out"],
                     cwd=tmp_path, plan=plan, backend=backend)
        for i in range(3)
    ]
    tasks = [asyncio.create_task(c) for c in later]
    await asyncio.to_thread(_wait_for, tmp_path / ".codex")
    assert (await within(first, "the first command")).exit_code == 0
    (tmp_path / "first.done").touch()
    results = await within(asyncio.gather(*tasks), "the later commands")
    assert [r.exit_code for r in results] == [0, 0, 0], [r.aggregated for r in results]
    assert [(tmp_path / f"probe{i}.out").read_text().strip() for i in range(3)] == ["0"] * 3
    _no_trace(tmp_path)


def _sandbox_linux(ws: Path, *command: str) -> list[str]:
    return [sys.executable, "-m", "llmx", "sandbox", "linux", "--full-auto", "--", *command]


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "LLMX_HOME": str(home), "PYTHONPATH": str(PROJECT)}


def test_exec_path_leaves_no_trace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = subprocess.run(_sandbox_linux(ws, "true"), cwd=ws, env=_env(tmp_path),
                          capture_output=True, text=True, check=False, timeout=WAIT_SECONDS)
    assert proc.returncode == 0, proc.stderr
    _no_trace(ws)
    proc = subprocess.run(_sandbox_linux(ws, "sh", "-c", PROBE), cwd=ws, env=_env(tmp_path),
                          capture_output=True, text=True, check=False, timeout=WAIT_SECONDS)
    assert proc.returncode == 0, proc.stderr
    _codex_stayed_empty(ws)
    _no_trace(ws)


@pytest.mark.parametrize("how", ["relayed-term", "command-killed"])
def test_exec_path_cleans_up_after_a_killed_command(how: str, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    token = f"{os.getpid()}{len(how)}7"
    proc = subprocess.Popen(_sandbox_linux(ws, "sh", "-c", f"touch ready; exec sleep {token}"),
                            cwd=ws, env=_env(tmp_path), stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (ws / "ready").exists() and _pids_with(token),
                   "the confined sleeper to start")
        if how == "relayed-term":
            proc.terminate()
        else:
            for pid in _pids_with(token):
                os.kill(pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + (15 if how == "relayed-term" else 9), err
    _no_trace(ws)


def _pids_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == b"sleep\0" + token.encode() + b"\0":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_concurrent_exec_paths_leave_no_trace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    script = ("while [ ! -e go ]; do sleep 0.01; done; " + ATTEMPTS
              + "ls -A .codex 2>/dev/null | wc -l > probe{}.out")
    procs = [subprocess.Popen(_sandbox_linux(ws, "sh", "-c", script.format(i)), cwd=ws,
                              env=_env(tmp_path)) for i in range(4)]
    try:
        # Every one has registered once four markers exist (or a process already failed).
        marker_dir = Path(registry_root()) / path_key(str(ws / ".codex"))
        wait_until(lambda: (marker_dir.exists() and len(os.listdir(marker_dir)) >= 4)
                   or any(p.poll() is not None for p in procs), "four mask markers")
        (ws / "go").touch()
        codes = [p.wait(timeout=60) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert codes == [0, 0, 0, 0]
    outs = sorted(ws.glob("probe*.out"))
    assert len(outs) == 4
    assert {p.read_text().strip() for p in outs} == {"0"}
    _no_trace(ws)


def test_a_crashed_run_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    # A real crash: the exec path's process (the waiter) is killed with SIGKILL, so nothing
    # of it runs afterwards; its target and marker stay behind.
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = subprocess.Popen(_sandbox_linux(ws, "sh", "-c", "touch ready; sleep 600"), cwd=ws,
                            env=_env(tmp_path))
    _wait_for(ws / "ready")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT_SECONDS)
    marker_dir = Path(registry_root()) / path_key(str(ws / ".codex"))
    assert (ws / ".codex").is_dir()
    assert [name.split(".")[0] for name in os.listdir(marker_dir)] == [str(proc.pid)]
    # The next run treats the empty leftover as missing, masks it, and removes it.
    result = asyncio.run(within(run_confined(["sh", "-c", PROBE], cwd=ws,
                                             plan=workspace_plan(protected(ws))), "the probe"))
    assert result.exit_code == 0, result.aggregated
    _codex_stayed_empty(ws)
    _no_trace(ws)


@pytest.mark.asyncio
async def test_users_own_empty_codex_is_kept(tmp_path: Path) -> None:
    (tmp_path / ".codex").mkdir()
    result = await within(run_confined(["sh", "-c", PROBE], cwd=tmp_path,
                                       plan=workspace_plan(protected(tmp_path))), "the probe")
    assert result.exit_code == 0
    _codex_stayed_empty(tmp_path)
    assert (tmp_path / ".codex").is_dir()
    marker_dir = Path(registry_root()) / path_key(str(tmp_path / ".codex"))
    wait_until(lambda: not marker_dir.exists(), "the markers to go")
    assert (tmp_path / ".codex").is_dir()



@pytest.fixture
def frozen_root(tmp_path: Path) -> Iterator[Path]:
    """A folder this user cannot create anything in."""
    root = tmp_path / "frozen"
    root.mkdir()
    if os.geteuid() != 0:
        root.chmod(0o555)
        yield root
        root.chmod(0o755)
        return
    # Root writes any folder: only a read-only mount stops it.
    mounted = False
    try:
        for args in (["--bind", str(root), str(root)], ["-o", "remount,ro,bind", str(root)]):
            done = subprocess.run(["mount", *args], capture_output=True, text=True,
                                  timeout=WAIT_SECONDS, check=False)
            if done.returncode != 0:
                pytest.skip(f"no read-only bind mount here: {done.stderr.strip()}")
            mounted = True
        yield root
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], capture_output=True, check=True,
                           timeout=WAIT_SECONDS)


@pytest.mark.parametrize("backend", MASKED)
def test_a_root_this_user_cannot_write_needs_no_mask(backend: BackendKind, tmp_path: Path,
                                                     frozen_root: Path) -> None:
    # No mount point can be made there, and none is needed: the command, with the same
    # credentials and fewer rights, cannot create the name either. The command runs.
    plan = workspace_plan(protected(frozen_root), protected(tmp_path))
    script = f"mkdir .git; echo $?; mkdir {tmp_path / '.git'}; echo $?"
    result = asyncio.run(within(run_confined(["sh", "-c", script], cwd=frozen_root,
                                             plan=plan, backend=backend), "the command"))
    assert result.exit_code == 0, result.aggregated
    assert result.stdout.split() == [b"1", b"1"], result.aggregated
    assert sorted(os.listdir(frozen_root)) == []
    _no_trace(tmp_path)


@pytest.mark.parametrize("backend", MASKED)
def test_a_session_reuses_its_targets_then_removes_them(backend: BackendKind,
                                                       tmp_path: Path) -> None:
    # Back to back, the second command adopts the first one's directory (the same inode:
    # no rmdir and mkdir between them); once the claim has lingered, nothing is left.
    async def twice() -> list[int]:
        inodes = []
        for _ in range(2):
            result = await within(run_confined(
                ["sh", "-c", "mkdir .codex/x; echo $?"], cwd=tmp_path,
                plan=workspace_plan(protected(tmp_path)), backend=backend), "the command")
            assert result.stdout == b"1\n", result.aggregated
            inodes.append((tmp_path / ".codex").stat().st_ino)
        return inodes

    first, second = asyncio.run(twice())
    assert first == second
    _no_trace(tmp_path)


def test_a_session_that_exits_leaves_no_trace(tmp_path: Path) -> None:
    # The lingering claim is released when the process exits, not left to the next run.
    code = (f"import asyncio, sys; sys.path[:0] = {str(PROJECT / 'tests')!r},;"
            "from support.linux_sandbox import protected, workspace_plan;"
            "from llmx.sandbox.linux.spawn import run_confined;"
            "from pathlib import Path; ws = Path(sys.argv[1]);"
            "r = asyncio.run(run_confined(['true'], cwd=ws, plan=workspace_plan(protected(ws))));"
            "print(r.exit_code, (ws / '.codex').is_dir())")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=WAIT_SECONDS, check=False)
    assert done.stdout.split() == ["0", "True"], done.stderr
    assert not _traces(tmp_path)


def _markers(path: Path) -> list[str]:
    marker_dir = Path(registry_root()) / path_key(str(path))
    return sorted(os.listdir(marker_dir)) if marker_dir.exists() else []


def test_a_next_command_takes_the_lingering_claim_back(tmp_path: Path) -> None:
    # The same targets asked again while the claim lingers: the claim itself is taken
    # back, so the registry gets no new marker (each used to cost a lock, a scan of the
    # markers and a file, milliseconds per command); released, it lingers again and goes.
    paths = (str(tmp_path / ".codex"), str(tmp_path / ".agents"))
    first = mask_targets.register(paths)
    mask_targets.release(first, linger=True)
    markers = _markers(tmp_path / ".codex")
    assert len(markers) == 1
    second = mask_targets.register(paths)
    assert second is first
    assert not second.released
    assert _markers(tmp_path / ".codex") == markers
    # Held by a running command, the claim is not lingering: a third request registers.
    third = mask_targets.register(paths)
    assert third is not second
    assert len(_markers(tmp_path / ".codex")) == 2
    mask_targets.release(third, linger=True)
    mask_targets.release(second, linger=True)
    mask_targets.release_lingering()
    assert not _traces(tmp_path)


@pytest.mark.parametrize("change", ["replaced", "filled", "removed"])
def test_a_target_changed_on_the_host_is_not_taken_back(change: str, tmp_path: Path) -> None:
    # Between two commands the user replaces the empty .codex with their own, fills it, or
    # removes it: the lingering claim is released through the registry and the next
    # command registers afresh, so the user's folder is never taken for ours.
    target = tmp_path / ".codex"
    first = mask_targets.register((str(target),))
    mask_targets.release(first, linger=True)
    if change == "replaced":
        # Made before the old one goes, so it is a new inode (one freed is reused at once).
        (tmp_path / "theirs").mkdir()
        target.rmdir()
        (tmp_path / "theirs").rename(target)
    elif change == "filled":
        (target / "config.toml").write_text("model = 'x'\n")
    else:
        target.rmdir()
    second = mask_targets.register((str(target),))
    assert second is not first
    assert first.released
    assert len(_markers(target)) == 1
    mask_targets.release(second)
    if change == "removed":
        # Registered afresh: made by this claim, removed by it.
        assert not target.exists()
    else:
        # The user's own folder stays, with what they put in it.
        assert target.is_dir()
    assert _markers(target) == []
