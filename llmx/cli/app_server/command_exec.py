"""``command/exec``: run one command, outside any thread, confined like the agent's own.

The sandbox is the server's configured one (``sandbox_mode`` and its tables, with the
command line's ``-c``), or the request's ``sandboxPolicy``; the command runs through the
same spawner an agent's command does, so what is enforced is the same, and a policy the
kernel cannot enforce refuses to run it rather than running it unconfined.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.app_server.context import ServerContext
from llmx.cli.app_server.params import CommandExecParams, decode
from llmx.cli.app_server.rpc import invalid_request

if TYPE_CHECKING:
    from llmx.cli.app_server.connection import Connection

# Codex's default for a command without ``timeoutMs``.
DEFAULT_TIMEOUT_MS = 10_000
# Bytes kept of each stream unless ``disableOutputCap`` (Codex caps them too).
DEFAULT_OUTPUT_CAP = 1024 * 1024
_MODES = {"readOnly": "read-only", "workspaceWrite": "workspace-write",
          "dangerFullAccess": "danger-full-access"}


def _capped(text: str, cap: int | None) -> str:
    data = text.encode("utf-8")
    if cap is None or len(data) <= cap:
        return text
    return data[:cap].decode("utf-8", "ignore")


class CommandExec:
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handlers(self) -> dict[str, Any]:
        return {"command/exec": self.run}

    async def run(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, CommandExecParams)
        if not params.command:
            raise invalid_request("command must not be empty")
        if params.tty or params.stream_stdin or params.stream_stdout_stderr:
            raise invalid_request("command/exec: tty, streamStdin and streamStdoutStderr are "
                                  "not supported by llmx; run the command without them")
        cwd = Path(params.cwd) if params.cwd else Path.cwd()
        if not cwd.is_dir():
            raise invalid_request(f"cwd {cwd} is not a directory")
        setup, env = self._sandbox(params, cwd.resolve())
        for key, value in (params.env or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        from llmx.runtime.tools.shell import run_command

        timeout = None if params.disable_timeout else (
            (params.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000)
        spawner = setup.confined if setup.filesystem_restricted else setup.unconfined
        try:
            result = await asyncio.wait_for(
                run_command(params.command, cwd=cwd, env=env, spawner=spawner), timeout)
        except TimeoutError:
            return {"exitCode": 124, "stdout": "",
                    "stderr": f"command timed out after {timeout:g} s"}
        except OSError as exc:
            return {"exitCode": 127, "stdout": "", "stderr": f"{exc}\n"}
        cap = None if params.disable_output_cap else (params.output_bytes_cap
                                                      or DEFAULT_OUTPUT_CAP)
        return {"exitCode": result.exit_code, "stdout": _capped(result.stdout, cap),
                "stderr": _capped(result.stderr, cap)}

    def _sandbox(self, params: CommandExecParams, cwd: Path) -> tuple[Any, dict[str, str]]:
        from llmx.runtime.config.load import load_config
        from llmx.runtime.config.types import ConfigError
        from llmx.runtime.session_sandbox import sandbox_setup
        from llmx.sandbox.policy import PolicyError, policy_to_dict
        from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox

        mode = None
        if params.sandbox_policy is not None:
            mode = _MODES.get(params.sandbox_policy.type)
            if mode is None:
                raise invalid_request(
                    f"sandboxPolicy {params.sandbox_policy.type} is not supported by llmx")
        try:
            loaded = load_config(self.context.home, overrides=self.context.overrides)
            resolved = resolve_sandbox(
                SandboxConfig.from_mapping(loaded.document, cwd=cwd, config_profile=None),
                SandboxFlags(sandbox=mode), cwd=cwd,
            )
        except (ConfigError, PolicyError) as exc:
            raise invalid_request(f"cannot set up the sandbox: {exc}") from None
        setup = sandbox_setup(resolved.plan, policy_to_dict(resolved.policy))
        return setup, dict(resolved.plan.env)
