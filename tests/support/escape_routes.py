"""The ways a command reaches the sandbox, for the escape suite: the command line
(``llmx sandbox linux --backend X``) and a running session (``run_confined`` through the
spawn server or forked), on every backend; both with no sandbox at all, as the positive
controls; and the real Codex CLI (``codex sandbox``), for the comparison."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from support.escape_arena import PYTHON, Arena

SESSION_RUNNER = Path(__file__).resolve().parent / "escape_session.py"
BACKENDS = ("namespaces", "bubblewrap", "landlock")


@dataclass(frozen=True)
class EscapeRoute:
    # "cli" (``llmx sandbox linux``), "session" (``run_confined``) or "codex"
    kind: str
    # None: no sandbox at all (the positive controls)
    backend: str | None = None
    spawn_server: bool = True
    codex: str | None = None

    @property
    def id(self) -> str:
        if self.kind == "codex":
            return "codex"
        if self.backend is None:
            return f"control-{self.kind}"
        suffix = "" if self.spawn_server or self.backend != "namespaces" else "-forked"
        return f"{self.kind}-{self.backend}{suffix}"

    @property
    def protects_metadata(self) -> bool:
        # The landlock backend refuses plans with read-only subpaths, so its runs use a
        # profile that leaves .git, .agents and .codex writable.
        return self.backend != "landlock"

    def options(self, arena: Arena) -> list[str]:
        """The sandbox options: workspace-write with the scratch root, /tmp and $TMPDIR
        excluded (the arena lives under /tmp); for landlock the same roots without
        carve-outs; for the controls no sandbox, and the caller's secrets passed on."""
        if self.backend is None:
            return ["--yolo", "-c", "shell_environment_policy.ignore_default_excludes=true"]
        if not self.protects_metadata:
            _write_landlock_profile(arena)
            policy = ["-P", "escape"]
        else:
            policy = ["-s", "workspace-write", "--add-dir", str(arena.scratch),
                      "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                      "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true"]
        return [*policy, "--backend", self.backend, "-C", str(arena.ws)]

    def argv(self, arena: Arena, command: list[str]) -> list[str]:
        if self.kind == "codex":
            assert self.codex is not None
            return [self.codex, "sandbox", "-c", "sandbox_mode=workspace-write",
                    "-c", f"sandbox_workspace_write.writable_roots=['{arena.scratch}']",
                    "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                    "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true",
                    # The cwd is the workspace (``Arena.run``); Codex 0.169 takes ``-C`` only
                    # together with a permission profile.
                    "--", *command]
        options = self.options(arena)
        if self.kind == "cli":
            return [PYTHON, "-m", "llmx", "sandbox", "linux", *options, "--", *command]
        forked = [] if self.spawn_server else ["--forked"]
        return [PYTHON, str(SESSION_RUNNER), *forked, *options, "--", *command]

    def env(self, arena: Arena) -> dict[str, str]:
        env = arena.caller_env()
        if self.kind == "codex":
            # Codex refuses a home under /tmp; the caller says where (bench only).
            env["CODEX_HOME"] = os.environ.get("CODEX_HOME", str(arena.home))
        return env


def _write_landlock_profile(arena: Arena) -> None:
    lines = ['[permissions.escape.filesystem]', '":root" = "read"']
    for root in (arena.ws, arena.scratch):
        lines.append(f'"{root}" = "write"')
        lines += [f'"{root / name}" = "write"' for name in (".git", ".agents", ".codex")]
    lines += ["[permissions.escape.network]", "enabled = false"]
    (arena.home / "config.toml").write_text("\n".join(lines) + "\n")


SANDBOXED = tuple(
    [EscapeRoute("cli", backend) for backend in BACKENDS]
    + [EscapeRoute("session", "namespaces"), EscapeRoute("session", "namespaces", False)]
    + [EscapeRoute("session", backend) for backend in BACKENDS[1:]])
# The same probe with no sandbox: each attempt must be seen getting through on one of them.
CONTROLS = (EscapeRoute("cli"), EscapeRoute("session"))
