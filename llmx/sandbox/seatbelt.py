"""macOS Seatbelt: the ``sandbox-exec`` argv for a ``ConfinementPlan``.

Roots and carve-outs are passed as ``-D`` parameters and referenced as ``(param "NAME")``,
so a path with quotes or parentheses cannot change the profile's meaning. The one exception
is the by-name refusal of ``.git``/``.agents``/``.codex`` under a writable root, a regex that
embeds the root with every regex metacharacter escaped. Paths are canonicalised first
(``/var`` is ``/private/var`` on macOS, and Seatbelt compares real paths).

The text is generated and tested on any platform; only running it needs macOS.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llmx.sandbox.globs import glob_to_regex, static_prefix
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot
from llmx.sandbox.protected import PROTECTED_METADATA_NAMES
from llmx.sandbox.seatbelt_text import BASE_POLICY, NETWORK_POLICY, PLATFORM_READ_DEFAULTS

# Never looked up on PATH: a workspace could plant its own ``sandbox-exec``.
SANDBOX_EXEC = "/usr/bin/sandbox-exec"
# Exported to the confined command, so tools can tell they run under Seatbelt.
SANDBOX_ENV_VAR = "CODEX_SANDBOX"
SANDBOX_ENV_VALUE = "seatbelt"


@dataclass(frozen=True)
class SeatbeltProfile:
    text: str
    # ``(name, path)`` in the order they are passed as ``-Dname=path``.
    params: tuple[tuple[str, str], ...]

    def argv(self, command: Sequence[str]) -> list[str]:
        defines = [f"-D{name}={value}" for name, value in self.params]
        return [SANDBOX_EXEC, "-p", self.text, *defines, "--", *command]


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _escape_regex_literal(text: str) -> str:
    out = []
    for ch in text:
        if ch in r"\.^$|?*+()[]{}":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _access_section(
    action: str,
    prefix: str,
    roots: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    params: list[tuple[str, str]],
) -> str:
    """``(allow ACTION ...)`` over ``roots``: each (root, excluded paths, protected names)."""
    parts: list[str] = []
    for index, (root, excluded, names) in enumerate(roots):
        root_param = f"{prefix}_{index}"
        params.append((root_param, root))
        if not excluded and not names:
            parts.append(f'(subpath (param "{root_param}"))')
            continue
        require = [f'(subpath (param "{root_param}"))']
        for j, path in enumerate(excluded):
            name = f"{root_param}_EXCLUDED_{j}"
            params.append((name, path))
            # ``literal`` as well as ``subpath``: otherwise the excluded directory itself
            # could be created (``mkdir .codex``) even though nothing beneath it could.
            require.append(f'(require-not (literal (param "{name}")))')
            require.append(f'(require-not (subpath (param "{name}")))')
        base = _escape_regex_literal(root.rstrip("/"))
        for meta in names:
            meta_re = _escape_regex_literal(meta)
            require.append(f'(require-not (regex #"^{base}/{meta_re}(/.*)?$"))')
        parts.append(f"(require-all {' '.join(require)} )")
    if not parts:
        return ""
    return f"(allow {action}\n{' '.join(parts)}\n)"


def _write_roots(
    plan: ConfinementPlan, real: Callable[[Path], str]
) -> list[tuple[str, list[str], list[str]]]:
    out = []
    for root in plan.writable_roots:
        root_real = real(root.path)
        excluded = [real(p) for p in root.read_only_subpaths]
        excluded += [real(p) for p in plan.denied_paths if _under(p, root)]
        # Protected names not already carved out (missing ``.git`` stays creatable in the
        # plan; Seatbelt can still refuse it by name, which is what Codex does here).
        covered = {Path(p).name for p in excluded if Path(p).parent == Path(root_real)}
        names = [n for n in PROTECTED_METADATA_NAMES if n not in covered and _protects(root)]
        out.append((root_real, excluded, names))
    return out


def _protects(root: WritableRoot) -> bool:
    return root.path != Path("/")


def _under(path: Path, root: WritableRoot) -> bool:
    return path == root.path or root.path in path.parents


def _deny_glob_section(globs: Sequence[str], real: Callable[[Path], str]) -> str:
    lines: list[str] = []
    for pattern in globs:
        regexes = {glob_to_regex(pattern)}
        prefix = static_prefix(pattern)
        if prefix not in ("", "/"):
            canonical = real(Path(prefix))
            if canonical != prefix:
                regexes.add(glob_to_regex(canonical + pattern[len(prefix) :]))
        for regex in sorted(regexes):
            quoted = regex.replace('"', '\\"')
            lines.append(f'(deny file-read* (regex #"{quoted}"))')
            lines.append(f'(deny file-write-unlink (regex #"{quoted}"))')
    return "\n".join(lines)


def seatbelt_profile(
    plan: ConfinementPlan,
    *,
    deny_globs: Sequence[str] = (),
    platform_defaults: bool = False,
    canonicalize: Callable[[Path], str] = _real,
) -> SeatbeltProfile:
    """The profile for ``plan``. ``platform_defaults`` adds the ``:minimal`` read set."""
    if plan.unconfined:
        raise ValueError("an unconfined plan has no Seatbelt profile; run the command directly")
    params: list[tuple[str, str]] = []
    denied = [canonicalize(p) for p in plan.denied_paths]
    if plan.readable_roots is None:
        if denied:
            read = "; allow read-only file operations\n" + _access_section(
                "file-read*", "READABLE_ROOT", [("/", denied, [])], params
            )
        else:
            read = "; allow read-only file operations\n(allow file-read*)"
    else:
        roots: list[tuple[str, Sequence[str], Sequence[str]]] = []
        for root in plan.readable_roots:
            real_root = canonicalize(root)
            under = [
                d for d in denied if d == real_root or d.startswith(real_root.rstrip("/") + "/")
            ]
            roots.append((real_root, under, []))
        section = _access_section("file-read*", "READABLE_ROOT", roots, params)
        read = f"; allow read-only file operations\n{section}" if section else ""
    full_write = any(r.path == Path("/") and not r.read_only_subpaths for r in plan.writable_roots)
    if full_write and not denied:
        write = '(allow file-write* (regex #"^/"))'
    elif full_write:
        write = _access_section("file-write*", "WRITABLE_ROOT", [("/", denied, [])], params)
    else:
        write = _access_section(
            "file-write*", "WRITABLE_ROOT", _write_roots(plan, canonicalize), params
        )
    if plan.network is NetworkAccess.ENABLED:
        network = "(allow network-outbound)\n(allow network-inbound)\n" + NETWORK_POLICY
    else:
        network = ""
    sections = [BASE_POLICY, read, write, _deny_glob_section(deny_globs, canonicalize), network]
    if platform_defaults and plan.readable_roots is not None:
        sections.append(PLATFORM_READ_DEFAULTS)
    return SeatbeltProfile("\n".join(sections), tuple(params))
