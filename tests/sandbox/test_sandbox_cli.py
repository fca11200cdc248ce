"""``llmx sandbox`` through real subprocesses of ``python -m llmx``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

HEAVY = ("httpx", "rich", "pydantic", "msgspec", "sqlite_utils", "aiofiles", "portalocker")


def _llmx(args: list[str], cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "LLMX_HOME": str(home), **env}
    return subprocess.run(
        [sys.executable, "-m", "llmx", *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=WAIT_SECONDS,
    )


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "ws" / ".git").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    return tmp_path / "ws"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["sandbox", "linux"], 2, "missing COMMAND"),
        (["sandbox", "linux", "-s", "sideways", "--", "true"], 2, "invalid choice: 'sideways'"),
        (
            ["sandbox", "linux", "--add-dir", "nope", "--", "true"],
            2,
            "nope': no such directory",
        ),
        (["sandbox", "linux", "--full-auto", "--yolo", "--", "true"], 2, "cannot be used together"),
        (
            ["sandbox", "linux", "-P", "dev", "--", "true"],
            1,
            "permission profile 'dev' is not defined",
        ),
        (
            ["sandbox", "linux", "-P", ":all", "--", "true"],
            1,
            "unknown built-in permission profile ':all'",
        ),
        (
            ["sandbox", "linux", "-c", "sandbox_mode=sideways", "--", "true"],
            1,
            "unknown sandbox mode",
        ),
        (["sandbox", "linux", "-c", "novalue", "--", "true"], 2, "expected key=value"),
        (
            [
                "sandbox",
                "linux",
                "-c",
                "sandbox_workspace_write.writable_roots=['rel']",
                "-s",
                "workspace-write",
                "--",
                "true",
            ],
            1,
            "'rel' is not an absolute path",
        ),
    ],
)
def test_bad_input_one_line_and_exit_code(
    ws: Path, args: list[str], code: int, needle: str
) -> None:
    result = _llmx(args, ws, ws.parent / "home")
    assert result.returncode == code, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert needle in last
    assert "Traceback" not in result.stderr


def test_bad_config_file_is_named(ws: Path) -> None:
    (ws.parent / "home" / "config.toml").write_text("sandbox_mode = [unclosed\n")
    result = _llmx(["sandbox", "explain"], ws, ws.parent / "home")
    assert result.returncode == 1
    assert "config.toml: not valid TOML" in result.stderr


def test_explain_prints_policy_roots_protected_network_env_backend(ws: Path) -> None:
    result = _llmx(
        ["sandbox", "explain", "--full-auto"], ws, ws.parent / "home", MY_API_KEY="sk-123"
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"type":"workspace-write"' in out
    assert f"writable: {ws}" in out
    assert f"  read-only: {ws / '.git'}" in out
    assert f"  read-only: {ws / '.codex'} (missing; kept from being created)" in out
    assert "network: restricted" in out
    assert "MY_API_KEY" in out.split("env dropped:")[1]
    assert "sk-123" not in out
    assert "backend:" in out


def test_config_file_and_overrides_apply(ws: Path) -> None:
    (ws.parent / "home" / "config.toml").write_text('sandbox_mode = "workspace-write"\n')
    out = _llmx(["sandbox", "explain"], ws, ws.parent / "home").stdout
    assert "decided by: sandbox_mode = 'workspace-write'" in out
    out = _llmx(
        ["sandbox", "explain", "-c", "sandbox_workspace_write.network_access=true"],
        ws,
        ws.parent / "home",
    ).stdout
    assert "network: enabled" in out


def test_debug_landlock_alias_parses_the_same(ws: Path) -> None:
    result = _llmx(
        ["debug", "landlock", "--explain", "--full-auto", "--", "true"], ws, ws.parent / "home"
    )
    assert result.returncode == 0
    assert "decided by: --full-auto" in result.stdout


def test_macos_without_sandbox_exec_says_so(ws: Path) -> None:
    if os.path.exists("/usr/bin/sandbox-exec"):
        pytest.skip("this machine has sandbox-exec")
    result = _llmx(["sandbox", "macos", "--", "true"], ws, ws.parent / "home")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "/usr/bin/sandbox-exec not found" in result.stderr


def _linux_backend_available(ws: Path) -> bool:
    out = _llmx(["sandbox", "explain", "--full-auto"], ws, ws.parent / "home").stdout
    return "none can enforce" not in out and sys.platform.startswith("linux")


def test_linux_runs_confined_and_exits_with_the_command_status(ws: Path) -> None:
    if not _linux_backend_available(ws):
        pytest.skip(
            "no Linux sandbox backend on this kernel (user namespaces or bubblewrap needed)"
        )
    home = ws.parent / "home"
    assert _llmx(["sandbox", "linux", "--", "sh", "-c", "exit 7"], ws, home).returncode == 7
    denied = _llmx(["sandbox", "linux", "--", "touch", "x"], ws, home)
    assert denied.returncode != 0
    assert not (ws / "x").exists()
    assert _llmx(["sandbox", "linux", "--full-auto", "--", "touch", "x"], ws, home).returncode == 0
    assert (ws / "x").exists()
    hook = _llmx(["sandbox", "linux", "--full-auto", "--", "touch", ".git/hook"], ws, home)
    assert hook.returncode != 0
    assert not (ws / ".git" / "hook").exists()


def test_gitdir_through_a_workspace_symlink_refuses_to_start(tmp_path: Path) -> None:
    """The attack of a retargeted ``gitdir:``: the command never runs, the link is intact."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    for repo in ("real-git", "evil-git"):
        subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / repo)], check=True,
                       timeout=WAIT_SECONDS)
    (ws / "link").symlink_to(tmp_path)
    (ws / ".git").write_text("gitdir: link/real-git\n")
    retarget = f"rm link && ln -s {tmp_path / 'evil'} link && mkdir -p {tmp_path / 'evil'}"
    run = _llmx(["sandbox", "linux", "--full-auto", "--", "sh", "-c", retarget], ws, home)
    assert run.returncode == 1, run.stderr
    assert run.stderr == (
        f"llmx sandbox linux: cannot enforce sandbox read-only path "
        f"{ws / 'link' / 'real-git'} because it crosses writable symlink {ws / 'link'} — "
        "replace the symlink with the directory it points to, or run without that writable "
        "root\n")
    assert os.readlink(ws / "link") == str(tmp_path)
    assert not (tmp_path / "evil").exists()


def test_a_missing_gitdir_target_cannot_be_planted(tmp_path: Path) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    home.mkdir()
    if not _linux_backend_available(ws):
        pytest.skip("no Linux sandbox backend on this kernel")
    (ws / ".git").write_text("gitdir: gitdirs/main\n")
    plant = _llmx(["sandbox", "linux", "--full-auto", "--", "mkdir", "-p", "gitdirs/main/hooks"],
                  ws, home)
    assert plant.returncode != 0
    assert not (ws / "gitdirs").exists()


_PLANT = ("for root in . ../extra; do mkdir -p $root/.git/hooks $root/.agents $root/.codex; "
          "echo x > $root/.git/hooks/pre-commit; echo x > $root/.agents/skill.md; "
          "echo x > $root/.codex/config.toml; done; git init -q; exit 0")


@pytest.mark.parametrize("backend", ["namespaces", "bubblewrap"])
def test_missing_metadata_cannot_be_created_in_any_writable_root(tmp_path: Path,
                                                                 backend: str) -> None:
    """Finding 4: neither the cwd nor an --add-dir root gains a .git, .agents or .codex
    (git init included, as in Codex 0.169), and the run leaves nothing behind."""
    from llmx.sandbox.linux.backends import BackendKind, backend_status

    status = backend_status(BackendKind(backend))
    if not status.available:
        pytest.skip(f"{backend} unavailable: {status.reason}")
    ws, extra, home = tmp_path / "ws", tmp_path / "extra", tmp_path / "home"
    for folder in (ws, extra, home):
        folder.mkdir()
    explained = _llmx(["sandbox", "explain", "--full-auto", "--add-dir", str(extra)], ws, home)
    for root in (ws, extra):
        for name in (".git", ".agents", ".codex"):
            assert f"  read-only: {root / name} (missing; kept from being created)\n" in \
                explained.stdout, explained.stdout
    run = _llmx(["sandbox", "linux", "--full-auto", "--add-dir", str(extra), "--backend",
                 backend, "--", "sh", "-c", _PLANT], ws, home)
    assert run.returncode == 0, run.stderr
    assert "Read-only file system" in run.stderr
    assert sorted(os.listdir(ws)) == []
    assert sorted(os.listdir(extra)) == []


@pytest.mark.parametrize("backend", ["namespaces", "bubblewrap"])
def test_a_repository_above_the_workspace_is_still_found(tmp_path: Path, backend: str) -> None:
    # The workspace's missing .git is masked by an empty folder, which git does not take
    # for a repository: it goes on looking upwards and finds the real one.
    from llmx.sandbox.linux.backends import BackendKind, backend_status

    status = backend_status(BackendKind(backend))
    if not status.available:
        pytest.skip(f"{backend} unavailable: {status.reason}")
    repo, home = tmp_path / "repo", tmp_path / "home"
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=WAIT_SECONDS)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e",
                    "commit", "-q", "--allow-empty", "-m", "above"], check=True,
                   timeout=WAIT_SECONDS)
    sub = repo / "sub"
    sub.mkdir()
    script = "git log --format=%s && git rev-parse --show-toplevel && git status --short"
    run = _llmx(["sandbox", "linux", "--full-auto", "--backend", backend, "--", "sh", "-c",
                 script], sub, home)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == ["above", str(repo)]
    assert sorted(os.listdir(sub)) == []


def test_explain_says_what_a_deny_entry_does_not_cover(tmp_path: Path) -> None:
    """Finding 12: a denied file git tracks stays readable through git's objects; explain
    names each such file and the repository, and the claim is checked by reading it so."""
    ws, home = tmp_path / "ws", tmp_path / "home"
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True, timeout=WAIT_SECONDS)
    (ws / "secret.env").write_text("TOKEN=committed-secret\n")
    (ws / "local.env").write_text("TOKEN=never-committed\n")
    subprocess.run(["git", "-C", str(ws), "add", "secret.env"], check=True,
                   timeout=WAIT_SECONDS)
    subprocess.run(["git", "-C", str(ws), "-c", "user.name=t", "-c", "user.email=t@e",
                    "commit", "-q", "-m", "oops"], check=True, timeout=WAIT_SECONDS)
    (home / "config.toml").write_text(
        '[permissions.sec]\nextends = ":workspace"\n[permissions.sec.filesystem]\n'
        f'"{ws / "secret.env"}" = "deny"\n"{ws / "local.env"}" = "deny"\n')
    out = _llmx(["sandbox", "explain", "-P", "sec"], ws, home).stdout.splitlines()
    assert (f"denied: {ws / 'secret.env'} (git holds its content in {ws / '.git'}, readable "
            "there (git show HEAD:secret.env, git log -p -- secret.env); not covered)") in out
    assert f"denied: {ws / 'local.env'}" in out
    assert any(line.startswith("not covered: deny entries hide these paths only") and
               "git's object store" in line and "hard link" in line for line in out), out
    if not _linux_backend_available(ws):
        pytest.skip("no Linux sandbox backend on this kernel")
    run = _llmx(["sandbox", "linux", "-P", "sec", "--", "sh", "-c",
                 "cat secret.env local.env; git show HEAD:secret.env"], ws, home)
    assert "never-committed" not in run.stdout
    assert run.stdout.count("committed-secret") == 1, (run.stdout, run.stderr)


_ESCALATE = 'printf "sandbox_mode = \\"danger-full-access\\"\\n" >> {config}'


@pytest.mark.parametrize("where", ["cwd", "add-dir", "custom", "missing"])
def test_a_command_cannot_rewrite_the_llmx_home(tmp_path: Path, where: str) -> None:
    """With the cwd at $HOME (or ``--add-dir ~``), ``~/.llmx/config.toml`` stays as it was."""
    user_home = tmp_path / "user"
    user_home.mkdir()
    llmx_home = user_home / ("llmx-state" if where == "custom" else ".llmx")
    if where != "missing":
        llmx_home.mkdir()
        (llmx_home / "config.toml").write_text('sandbox_mode = "workspace-write"\n')
    if not _linux_backend_available(user_home):
        pytest.skip("no Linux sandbox backend on this kernel")
    cwd = user_home if where != "add-dir" else tmp_path / "project"
    cwd.mkdir(exist_ok=True)
    args = ["sandbox", "linux", "--full-auto"]
    if where == "add-dir":
        args += ["--add-dir", str(user_home)]
    config = llmx_home / "config.toml"
    script = f"mkdir -p {llmx_home} && " + _ESCALATE.format(config=config)
    env = {"HOME": str(user_home)}
    if where != "custom":
        env["LLMX_HOME"] = ""
    run = _llmx([*args, "--", "sh", "-c", script], cwd, llmx_home, **env)
    assert run.returncode != 0, "the sandboxed command rewrote the llmx home"
    if where == "missing":
        assert not llmx_home.exists()
    else:
        assert config.read_text() == 'sandbox_mode = "workspace-write"\n'
    # The rest of the home stays writable.
    assert _llmx([*args, "--", "touch", str(user_home / "notes.txt")], cwd, llmx_home,
                 **env).returncode == 0


def test_explain_names_the_protected_home(tmp_path: Path) -> None:
    (tmp_path / ".llmx").mkdir()
    out = _llmx(["sandbox", "explain", "--full-auto"], tmp_path, tmp_path / ".llmx",
                HOME=str(tmp_path)).stdout
    assert f"  read-only: {tmp_path / '.llmx'} (llmx home)" in out.splitlines()


def test_log_denials_lists_the_refused_path(ws: Path) -> None:
    if not _linux_backend_available(ws):
        pytest.skip(
            "no Linux sandbox backend on this kernel (user namespaces or bubblewrap needed)"
        )
    result = _llmx(
        ["sandbox", "linux", "--log-denials", "--", "touch", "./y"], ws, ws.parent / "home"
    )
    assert result.returncode == 1
    assert "denied (read-only file system): ./y" in result.stderr


def test_sandbox_linux_path_imports_nothing_heavy(ws: Path) -> None:
    code = (
        "import sys\n"
        "from llmx.cli.main import main\n"
        "import llmx.sandbox.linux.exec_in_place as b\n"
        "def fake(*a, **k):\n"
        "    print(' '.join(sorted(sys.modules))); raise SystemExit(0)\n"
        "b.exec_confined = fake\n"
        "main(['sandbox', 'linux', '--full-auto', '--', 'true'])\n"
    )
    env = {**os.environ, "LLMX_HOME": str(ws.parent / "home")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ws, env=env, capture_output=True, text=True, check=True,
        timeout=WAIT_SECONDS,
    ).stdout
    loaded = set(out.split())
    assert "llmx.sandbox.resolve" in loaded
    assert not [m for m in HEAVY if m in loaded]


# What tells the backends apart from inside: the PID namespace's init is bubblewrap's own
# process, llmx's (the interpreter), or there is no PID namespace at all (the landlock
# backend: the command's PID is the host's).
_WHICH_INIT = 'if [ "$$" != 2 ]; then echo none; else cat /proc/1/comm; fi'
_INIT_OF = {"namespaces": "python", "bubblewrap": "bwrap", "landlock": "none"}


@pytest.mark.parametrize("backend", list(_INIT_OF))
def test_backend_option_runs_that_backend(ws: Path, backend: str) -> None:
    from llmx.sandbox.linux.backends import BackendKind, backend_status

    status = backend_status(BackendKind(backend))
    if not status.available:
        pytest.skip(f"{backend} unavailable: {status.reason}")
    home = ws.parent / "home"
    explained = _llmx(["sandbox", "explain", "--backend", backend], ws, home)
    assert f"backend: {backend}\n" in explained.stdout, explained.stderr
    # Both spellings argparse takes.
    for option in (["--backend", backend], [f"--backend={backend}"]):
        result = _llmx(["sandbox", "linux", *option, "--", "sh", "-c", _WHICH_INIT], ws, home)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(_INIT_OF[backend]), result.stdout


def test_backend_that_cannot_enforce_the_plan_refuses_to_run(ws: Path) -> None:
    # The landlock backend cannot keep .git read-only inside a writable root: the command
    # must not run (not even unprotected), and the line says which backend and why.
    from llmx.sandbox.linux.backends import BackendKind, backend_status

    status = backend_status(BackendKind.LANDLOCK)
    if not status.available:
        pytest.skip(f"landlock unavailable: {status.reason}")
    result = _llmx(["sandbox", "linux", "--full-auto", "--backend", "landlock", "--", "touch",
                    "ran"], ws, ws.parent / "home")
    assert result.returncode == 1
    assert not (ws / "ran").exists()
    assert result.stderr.count("\n") == 1
    assert "landlock: Landlock cannot keep read-only subpaths" in result.stderr
    assert "--backend" in result.stderr


def test_unknown_backend_is_a_usage_error(ws: Path) -> None:
    result = _llmx(["sandbox", "linux", "--backend", "chroot", "--", "true"], ws,
                   ws.parent / "home")
    assert result.returncode == 2
    assert "invalid choice: 'chroot'" in result.stderr


def test_landlock_backend_refuses_to_run_as_root(ws: Path) -> None:
    # Root owns every system file, and Landlock does not govern file modes: a command
    # could make a system binary setuid. The command must not run at all.
    if os.geteuid() != 0:
        pytest.skip("the landlock backend refuses root only")
    result = _llmx(["sandbox", "linux", "--backend", "landlock", "--", "touch", "ran"], ws,
                   ws.parent / "home")
    assert result.returncode == 1
    assert not (ws / "ran").exists()
    assert "landlock: refused as root" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("backend", ["namespaces", "bubblewrap"])
@pytest.mark.parametrize("log_denials", [False, True], ids=["exec", "log-denials"])
def test_stdin_file_reaches_the_command_whole(ws: Path, backend: str,
                                              log_denials: bool) -> None:
    # bubblewrap gets a file stdin through a pipe (it could be reopened for writing by
    # path otherwise): every byte must still arrive, in order.
    from llmx.sandbox.linux.backends import BackendKind, backend_status

    status = backend_status(BackendKind(backend))
    if not status.available:
        pytest.skip(f"{backend} unavailable: {status.reason}")
    data = bytes(range(256)) * 4096 + b"end\n"
    source = ws.parent / "stdin.bin"
    source.write_bytes(data)
    flags = ["--log-denials"] if log_denials else []
    with open(source, "rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "llmx", "sandbox", "linux", "--backend", backend, *flags,
             "--", "sha256sum"], stdin=stdin, cwd=ws, capture_output=True, timeout=60,
            env={**os.environ, "LLMX_HOME": str(ws.parent / "home")})
    import hashlib

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
