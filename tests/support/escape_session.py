"""Runs one command the way a running session does (``run_confined``), for the escape suite.

``python escape_session.py [--forked] SANDBOX-OPTIONS -- COMMAND...``: the options are
``llmx sandbox linux``'s (``--backend`` among them), resolved the same way; the command's
output goes to this process's stdout and stderr, and its exit code is this one's.
Without ``--forked`` the command is started by the session's spawn server (own backend),
else forked from the session.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from llmx.cli.main import build_parser
from llmx.cli.sandbox_run import load_config
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.spawn import run_confined, warm_up
from llmx.sandbox.plan import ConfinementPlan
from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox


async def _run(command: list[str], cwd: Path, plan: ConfinementPlan,
               backend: BackendKind | None, forked: bool) -> int:
    if not forked and backend is BackendKind.NAMESPACES:
        assert await warm_up(), "the spawn server did not come up"
    result = await run_confined(command, cwd=cwd, plan=plan, env=plan.env, backend=backend,
                                spawn_server=not forked, timeout=180)
    os.write(1, result.stdout)
    os.write(2, result.stderr)
    return result.exit_code


def main(argv: list[str]) -> int:
    forked = argv[:1] == ["--forked"]
    if forked:
        argv = argv[1:]
    args = build_parser("sandbox").parse_args(["sandbox", "linux", *argv])
    cwd = Path(args.cd).resolve() if args.cd else Path.cwd()
    config = load_config(Path(os.environ["LLMX_HOME"]), args.config)
    flags = SandboxFlags(sandbox=args.sandbox_mode, full_auto=False, bypass=args.bypass,
                         permission_profile=args.permission_profile,
                         add_dirs=tuple(args.add_dir))
    plan = resolve_sandbox(SandboxConfig.from_mapping(config, cwd=cwd), flags, cwd=cwd).plan
    backend = BackendKind(args.backend) if args.backend else None
    return asyncio.run(_run(args.command[1:], cwd, plan, backend, forked))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
