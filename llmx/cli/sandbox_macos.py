"""``llmx sandbox macos``: run a command under Seatbelt where ``sandbox-exec`` exists."""

from __future__ import annotations

import os
import sys
from typing import Any

from llmx.cli.errors import fail, warn


def run_macos(resolved: Any, command: list[str], *, log_denials: bool) -> int:
    from llmx.sandbox.seatbelt import (
        SANDBOX_ENV_VALUE,
        SANDBOX_ENV_VAR,
        SANDBOX_EXEC,
        seatbelt_profile,
    )

    plan = resolved.plan
    if not os.path.exists(SANDBOX_EXEC):
        return fail("sandbox macos",
                    f"{SANDBOX_EXEC} not found: Seatbelt exists only on macOS",
                    "on Linux use `llmx sandbox linux`")
    if log_denials:
        warn("sandbox macos", "--log-denials is not supported yet; ignored")
    env = dict(plan.env)
    if plan.unconfined:
        argv = list(command)
    else:
        fs = resolved.resolved_fs
        profile = seatbelt_profile(
            plan,
            deny_globs=fs.deny_globs if fs is not None else (),
            platform_defaults=bool(fs is not None and fs.platform_defaults),
        )
        argv = profile.argv(command)
        env[SANDBOX_ENV_VAR] = SANDBOX_ENV_VALUE
    os.chdir(resolved.cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        sys.stderr.write(f"llmx sandbox macos: error: cannot run {argv[0]}: {exc.strerror}\n")
        return 127 if isinstance(exc, FileNotFoundError) else 126
