"""What a frontend asks of a thread (``ThreadOptions``) and the settings it resolves to.

A frontend hands over its flags as data; the door applies them in Codex's order (flags,
then ``-c`` overrides, then the profile, then ``config.toml``, then defaults), resolves the
sandbox and the approval policy, and reads the project's instructions. No frontend
assembles a session's settings itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llmx.runtime.config.loaded import LoadedConfig
from llmx.runtime.config.types import ApprovalPolicy, ConfigError
from llmx.runtime.model_families import CatalogError, ModelFamily, auto_compact_limit, load_catalog
from llmx.runtime.session_sandbox import sandbox_setup
from llmx.runtime.session_types import SandboxSetup, SessionSettings
from llmx.runtime.threads.errors import ThreadError

if TYPE_CHECKING:
    from llmx.runtime.config.tables import Config

Warn = Callable[[str], None]


class ThreadOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How to run a thread: the frontend's flags, as data.

    ``None`` means "not given": the configuration decides.
    """

    # The working directory of the thread's commands (an existing directory).
    cwd: Path
    # ``-c KEY=VALUE`` overrides (TOML values), applied over ``config.toml`` in order.
    config_overrides: tuple[str, ...] = ()
    # ``[profiles.NAME]`` to apply (``-p``).
    profile: str | None = None
    model: str | None = None
    # ``read-only`` | ``workspace-write`` | ``danger-full-access`` (``-s``).
    sandbox_mode: str | None = None
    # ``untrusted`` | ``on-failure`` | ``on-request`` | ``never`` (``-a``).
    approval_policy: str | None = None
    # Workspace-write sandbox with on-request approvals.
    full_auto: bool = False
    # No sandbox and no approvals.
    bypass_approvals_and_sandbox: bool = False
    # More writable directories (``--add-dir``).
    add_dirs: tuple[str, ...] = ()
    # Write nothing to disk: no rollout, no prompt history, no session index, no cache.
    ephemeral: bool = False
    # Refuse a ``cwd`` outside a git repository unless ``[projects]`` trusts it (exec's rule).
    require_trusted_cwd: bool = False
    # What started the thread, kept in a new thread's ``session_meta.thread_source``.
    thread_source: str | None = None
    # The approval policy when neither a flag nor the configuration sets one. exec has
    # nobody to ask, so it passes ``"never"``; None keeps the configuration's default.
    approval_policy_when_unset: str | None = None


class UntrustedDirectory(ThreadError):
    """``require_trusted_cwd`` and the directory is neither in a git repository nor trusted."""


def load_thread_config(home: Path, options: ThreadOptions, warn: Warn) -> LoadedConfig:
    """The effective configuration for ``options``; each of its warnings goes to ``warn``."""
    from llmx.runtime.config.load import load_config

    try:
        loaded = load_config(
            home, overrides=list(options.config_overrides), profile=options.profile,
            flags={"model": options.model},
        )
    except ConfigError as exc:
        raise ThreadError(str(exc)) from None
    for warning in loaded.warnings:
        warn(warning)
    return loaded


def check_trusted_cwd(loaded: LoadedConfig, cwd: Path) -> None:
    """Raise :class:`UntrustedDirectory` unless ``cwd`` is in a git repository or trusted."""
    from llmx.runtime.instructions import find_git_root

    if find_git_root(cwd) is not None:
        return
    project = loaded.config.projects.get(str(cwd), {})
    if project.get("trust_level") == "trusted":
        return
    raise UntrustedDirectory(
        f"{cwd} is not inside a git repository or a trusted directory",
        "run it in one, or trust the directory in [projects] of config.toml",
    )


def thread_settings(
    options: ThreadOptions, loaded: LoadedConfig, thread_id: str, *, originator: str,
    source: str,
) -> SessionSettings:
    """The settings of thread ``thread_id``: model, sandbox, approvals, instructions."""
    from llmx.runtime.instructions import (
        BASE_INSTRUCTIONS,
        discover_project_docs,
        user_instructions_text,
    )
    config = loaded.config
    cwd = options.cwd
    sandbox = thread_sandbox(options, loaded, thread_id)
    try:
        approval = ApprovalPolicy.parse(_approval_policy(options, loaded),
                                        source="-a/approval_policy")
    except ValueError as exc:
        raise ThreadError(str(exc)) from None
    docs = discover_project_docs(cwd, config.project_doc_max_bytes)
    catalog = _model_catalog(config)
    settings = SessionSettings(
        thread_id=thread_id,
        cwd=cwd,
        model=config.model,
        model_provider=config.model_provider,
        approval_policy=approval,
        sandbox=sandbox,
        base_instructions=config.instructions or BASE_INSTRUCTIONS,
        user_instructions=user_instructions_text(cwd, docs),
        reasoning_effort=(
            config.model_reasoning_effort.value if config.model_reasoning_effort else None
        ),
        reasoning_summary=(
            config.model_reasoning_summary.value if config.model_reasoning_summary else "auto"
        ),
        model_context_window=config.model_context_window,
        auto_compact_token_limit=auto_compact_limit(
            config.model, config.model_context_window, config.model_auto_compact_token_limit,
            catalog),
        compact_prompt=_compact_prompt(config),
        web_search_mode=config.web_search.value,
        model_catalog=catalog,
        env=sandbox.plan.env,
        notify=tuple(config.notify or ()),
        originator=originator,
        thread_source=options.thread_source,
        source=source,
        shell=Path(os.environ.get("SHELL") or "/bin/bash").name,
    )
    return settings


def thread_sandbox(options: ThreadOptions, loaded: LoadedConfig, thread_id: str) -> SandboxSetup:
    """The sandbox ``options`` ask for, resolved against the configuration."""
    from llmx.sandbox.policy import PolicyError, policy_to_dict
    from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox

    cwd = options.cwd
    try:
        sandbox = resolve_sandbox(
            # The profile is already merged into the document.
            SandboxConfig.from_mapping(loaded.document, cwd=cwd, config_profile=None),
            SandboxFlags(
                sandbox=options.sandbox_mode, full_auto=options.full_auto,
                bypass=options.bypass_approvals_and_sandbox, add_dirs=options.add_dirs,
            ),
            cwd=cwd, thread_id=thread_id, home=None,
        )
    except PolicyError as exc:
        raise ThreadError(exc.what, exc.todo) from None
    return sandbox_setup(sandbox.plan, policy_to_dict(sandbox.policy), resolved=sandbox)


def sandbox_for_mode(options: ThreadOptions, loaded: LoadedConfig,
                     thread_id: str) -> Callable[[str, Path], SandboxSetup]:
    """The sandbox of a turn that asks for another mode or runs in another cwd (a
    ``user_turn``'s ``sandbox_policy`` and ``cwd``): the thread's options with that mode
    and cwd instead of theirs."""

    def resolve(mode: str, cwd: Path) -> SandboxSetup:
        return thread_sandbox(
            msgspec.structs.replace(options, sandbox_mode=mode, cwd=cwd, full_auto=False,
                                    bypass_approvals_and_sandbox=False),
            loaded, thread_id,
        )

    return resolve


def _model_catalog(config: Config) -> tuple[ModelFamily, ...] | None:
    """``model_catalog_json`` (read now: a bad file fails the thread's start, not its
    first request), else None for the bundled catalog."""
    if not config.model_catalog_json:
        return None
    path = Path(config.model_catalog_json).expanduser()
    try:
        return load_catalog(path)
    except CatalogError as exc:
        raise ThreadError(f"model_catalog_json {path}: {exc}",
                          "fix the file (the format of 'codex debug models'), or remove "
                          "the key from config.toml") from None


def _compact_prompt(config: Config) -> str | None:
    """``experimental_compact_prompt_file`` (read now: a bad path fails the thread's
    start, not its first compaction), else ``compact_prompt``."""
    if config.experimental_compact_prompt_file:
        path = Path(config.experimental_compact_prompt_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ThreadError(f"experimental_compact_prompt_file {path}: cannot read it "
                              f"({exc.strerror if isinstance(exc, OSError) else exc})",
                              "fix the path in config.toml, or remove the key") from None
        if text.strip():
            return text
    if config.compact_prompt and config.compact_prompt.strip():
        return config.compact_prompt
    return None


def _approval_policy(options: ThreadOptions, loaded: LoadedConfig) -> str:
    if options.approval_policy:
        return options.approval_policy
    if options.bypass_approvals_and_sandbox:
        return "never"
    if options.full_auto:
        return "on-request"
    if "approval_policy" in loaded.document or options.approval_policy_when_unset is None:
        return str(loaded.config.approval_policy.value)
    return options.approval_policy_when_unset
