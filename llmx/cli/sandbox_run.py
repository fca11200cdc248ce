"""The work behind ``llmx sandbox``: resolve, then explain, exec, or run and report denials.

Exit codes: the command's own status when it ran; 2 for a bad command line (an unknown
mode, a conflicting flag, a missing ``--add-dir``, no command), as argparse and Codex's
clap do; 1 when the config is wrong or the sandbox cannot be set up on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from llmx.cli.errors import error_line, warn
from llmx.sandbox.failure import SandboxFailure
from llmx.sandbox.policy import FlagError, PolicyError
from llmx.sandbox.resolve import (
    FIX_CONFIG,
    ResolvedSandbox,
    SandboxConfig,
    SandboxFlags,
    resolve_sandbox,
)


class UsageError(SandboxFailure):
    """A bad command line that only this command checks (exit 2)."""


def _label(args: argparse.Namespace) -> str:
    return f"sandbox {args.sandbox_command}"


def _fail(args: argparse.Namespace, failure: SandboxFailure, code: int) -> int:
    """Report ``failure`` in the one-line form; ``code``."""
    todo = failure.todo
    if todo is None:
        # Every refusal says what to do; these are for a message that did not know.
        if isinstance(failure, (UsageError, FlagError)):
            todo = f"see `llmx {_label(args)} --help`"
        elif isinstance(failure, PolicyError):
            todo = FIX_CONFIG
        else:
            from llmx.sandbox.linux.result import SETUP_TODO

            todo = SETUP_TODO
    sys.stderr.write(error_line(_label(args), failure.what, todo) + "\n")
    return code


def parse_override(text: str) -> tuple[list[str], object]:
    """``key.sub=value``; the value is TOML, or a plain string when it is not valid TOML
    (so ``-c model=o3`` works without quotes, as in Codex)."""
    import tomllib

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"-c {text!r}: expected key=value",
                         "write it as -c KEY=VALUE, e.g. -c sandbox_mode=workspace-write")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def load_config(home: Path, overrides: list[str]) -> dict[str, object]:
    config: dict[str, object] = {}
    path = home / "config.toml"
    if path.is_file():
        # Only here and in ``parse_override``: with no config file and no ``-c``, the
        # start-up of ``llmx sandbox linux -- CMD`` does without the TOML parser.
        import tomllib

        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: not valid TOML ({exc})",
                              "fix the file or move it away") from None
    for text in overrides:
        keys, value = parse_override(text)
        table = config
        for part in keys[:-1]:
            nested = table.setdefault(part, {})
            if not isinstance(nested, dict):
                raise UsageError(f"-c {text!r}: {part!r} is not a table in the config",
                                 f"override {part!r} as a whole, or make it a table")
            table = nested
        table[keys[-1]] = value
    return config


def _home() -> Path:
    # The same rule as ``llmx.events.home.llmx_home``, repeated because importing
    # ``llmx.events`` loads the whole msgspec schema, too slow for ``sandbox linux -- true``.
    configured = os.environ.get("LLMX_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".llmx"


def _command(args: argparse.Namespace) -> list[str]:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return command


def run_sandbox_command(args: argparse.Namespace) -> int:
    command = _command(args)
    try:
        cwd = Path(args.cd).resolve() if args.cd else Path.cwd()
        if args.cd and not cwd.is_dir():
            raise UsageError(f"-C {args.cd!r}: no such directory", "pass an existing directory")
        config = load_config(_home(), args.config)
        sandbox_config = SandboxConfig.from_mapping(
            config, cwd=cwd, config_profile=args.config_profile
        )
        flags = SandboxFlags(
            sandbox=args.sandbox_mode,
            full_auto=args.full_auto,
            bypass=args.bypass,
            permission_profile=args.permission_profile,
            add_dirs=tuple(args.add_dir),
        )
        resolved = resolve_sandbox(sandbox_config, flags, cwd=cwd)
    except (UsageError, FlagError) as exc:
        return _fail(args, exc, 2)
    except PolicyError as exc:
        return _fail(args, exc, 1)
    for warning in resolved.warnings:
        warn(_label(args), warning)
    if args.explain or args.platform == "explain":
        return _explain(args, resolved)
    if not command:
        return _fail(args, UsageError(
            "missing COMMAND",
            f"give it after --: llmx {_label(args)} [OPTIONS] -- COMMAND [ARGS...]"), 2)
    if args.platform == "macos":
        from llmx.cli.sandbox_macos import run_macos

        return run_macos(resolved, command, log_denials=args.log_denials)
    return _run_linux(args, resolved, command)


def _backend(args: argparse.Namespace) -> str | None:
    """The Linux backend asked for with ``--backend`` (a ``BackendKind`` value), or ``None``."""
    name: str | None = getattr(args, "backend", None)
    return name


def _backend_lines(args: argparse.Namespace, resolved: ResolvedSandbox, platform: str) -> list[str]:
    if resolved.plan.unconfined:
        return ["backend: none needed (unconfined)"]
    if platform == "macos" or (platform == "explain" and sys.platform == "darwin"):
        from llmx.sandbox.seatbelt import SANDBOX_EXEC

        present = os.path.exists(SANDBOX_EXEC)
        return [f"backend: seatbelt ({SANDBOX_EXEC} {'found' if present else 'not found'})"]
    if not sys.platform.startswith("linux"):
        return [f"backend: none (no Linux sandbox on {sys.platform})"]
    from llmx.sandbox.linux import backends

    lines = []
    name = _backend(args)
    kind = None if name is None else backends.BackendKind(name)
    try:
        choice = backends.explain(resolved.plan, kind)
        lines.append(f"backend: {choice.kind.value}")
        statuses = choice.statuses
    except backends.UnenforceablePlan as exc:
        lines.append(f"backend: none can enforce this plan: {exc}")
        statuses = backends.probe_backends()
    for status in statuses:
        state = "available" if status.available else "unavailable"
        lines.append(f"  {status.kind.value}: {state} ({status.reason})")
    return lines


def _explain(args: argparse.Namespace, resolved: ResolvedSandbox) -> int:
    from llmx.sandbox.explain import explain_lines

    lines = explain_lines(
        resolved,
        parent_env=os.environ,
        backend_lines=_backend_lines(args, resolved, args.platform),
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _run_linux(args: argparse.Namespace, resolved: ResolvedSandbox, command: list[str]) -> int:
    if not sys.platform.startswith("linux"):
        return _fail(args, SandboxFailure(f"the Linux sandbox needs Linux; this is {sys.platform}",
                                          "use `llmx sandbox macos` on macOS"), 1)
    from llmx.sandbox.linux.backends import BackendKind, UnenforceablePlan

    plan = resolved.plan
    name = _backend(args)
    backend = None if name is None else BackendKind(name)
    try:
        if not args.log_denials:
            # This process becomes the command: nothing of the denial report is loaded.
            from llmx.sandbox.linux.exec_in_place import exec_confined

            sys.stdout.flush()
            sys.stderr.flush()
            exec_confined(command, cwd=resolved.cwd, plan=plan, env=plan.env, backend=backend,
                          program=f"llmx {_label(args)}")
        return _run_reporting_denials(args, resolved, command)
    except UnenforceablePlan as exc:
        return _fail(args, exc, 1)
    except FileNotFoundError as exc:
        return _fail(args, SandboxFailure(f"cannot run {command[0]}: {exc.strerror or exc}",
                                          "check the command's name and PATH"), 127)


def _run_reporting_denials(args: argparse.Namespace, resolved: ResolvedSandbox,
                           command: list[str]) -> int:
    """``--log-denials``: run the command, wait, then list what the sandbox refused."""
    from llmx.sandbox.linux.backends import BackendKind
    from llmx.sandbox.linux.blocking import run_confined_blocking
    from llmx.sandbox.linux.denials import find_denials, format_denials
    from llmx.sandbox.linux.result import SandboxSetupError

    name = _backend(args)
    backend = None if name is None else BackendKind(name)
    try:
        result = run_confined_blocking(
            command, cwd=resolved.cwd, plan=resolved.plan, env=resolved.plan.env, capture=True,
            backend=backend)
    except SandboxSetupError as exc:
        return _fail(args, exc, 1)
    findings = find_denials(result.aggregated)
    if result.denied is not None or findings:
        sys.stderr.write("llmx sandbox: denied by the sandbox:\n")
        for line in format_denials(findings) or [
            f"denied ({result.denied.value})" if result.denied else ""
        ]:
            sys.stderr.write(f"  {line}\n")
    else:
        sys.stderr.write("llmx sandbox: no denials observed\n")
    return result.exit_code
