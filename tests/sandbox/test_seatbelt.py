"""Seatbelt profile text per policy, compared with golden files (runs on any platform).

Regenerate after an intended change with ``LLMX_REGEN_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot
from llmx.sandbox.seatbelt import SANDBOX_EXEC, seatbelt_profile

GOLDEN = Path(__file__).parent / "golden" / "seatbelt"
PROJECT = Path("/Users/dev/project")

PLANS: dict[str, tuple[ConfinementPlan, tuple[str, ...], bool]] = {
    "read-only": (ConfinementPlan(), (), False),
    "read-only-network": (ConfinementPlan(network=NetworkAccess.ENABLED), (), False),
    "workspace-write": (
        ConfinementPlan(
            writable_roots=(
                WritableRoot(PROJECT, (PROJECT / ".git", PROJECT / ".codex")),
                WritableRoot(Path("/private/tmp")),
            )
        ),
        (),
        False,
    ),
    "workspace-write-network": (
        ConfinementPlan(
            writable_roots=(WritableRoot(PROJECT, (PROJECT / ".git",)),),
            network=NetworkAccess.ENABLED,
        ),
        (),
        False,
    ),
    "profile-deny-globs": (
        ConfinementPlan(
            writable_roots=(WritableRoot(PROJECT, (PROJECT / ".git",)),),
            denied_paths=(PROJECT / "secrets",),
        ),
        (f"{PROJECT}/**/*.env", "/Users/dev/.ssh"),
        False,
    ),
    "restricted-read-minimal": (
        ConfinementPlan(
            readable_roots=(PROJECT, Path("/opt/tools")),
            writable_roots=(WritableRoot(PROJECT),),
            denied_paths=(PROJECT / "private",),
        ),
        (),
        True,
    ),
    "full-write": (ConfinementPlan(writable_roots=(WritableRoot(Path("/")),)), (), False),
}


def _render(name: str) -> str:
    plan, globs, minimal = PLANS[name]
    profile = seatbelt_profile(plan, deny_globs=globs, platform_defaults=minimal, canonicalize=str)
    params = "".join(f";; -D{key}={value}\n" for key, value in profile.params)
    return f";; parameters\n{params};; profile\n{profile.text}"


@pytest.mark.parametrize("name", sorted(PLANS))
def test_golden_profile(name: str) -> None:
    path = GOLDEN / f"{name}.sbpl"
    rendered = _render(name)
    if os.environ.get("LLMX_REGEN_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == rendered


def test_profile_is_balanced_and_names_every_param() -> None:
    for name in PLANS:
        plan, globs, minimal = PLANS[name]
        profile = seatbelt_profile(
            plan, deny_globs=globs, platform_defaults=minimal, canonicalize=str
        )
        text = "\n".join(line.split(";", 1)[0] for line in profile.text.splitlines())
        text = text.replace('"("', "").replace('")"', "")
        assert text.count("(") == text.count(")"), name
        for key, _ in profile.params:
            assert f'(param "{key}")' in profile.text


def test_workspace_carve_outs_refuse_both_the_path_and_its_creation() -> None:
    plan, _, _ = PLANS["workspace-write"]
    profile = seatbelt_profile(plan, canonicalize=str)
    assert ("WRITABLE_ROOT_0_EXCLUDED_1", str(PROJECT / ".codex")) in profile.params
    assert '(require-not (literal (param "WRITABLE_ROOT_0_EXCLUDED_1")))' in profile.text
    assert '(require-not (subpath (param "WRITABLE_ROOT_0_EXCLUDED_1")))' in profile.text
    # .agents is missing and not carved out by path, so it is refused by name.
    assert '(require-not (regex #"^/Users/dev/project/\\.agents(/.*)?$"))' in profile.text


def test_argv_shape() -> None:
    profile = seatbelt_profile(PLANS["workspace-write"][0], canonicalize=str)
    argv = profile.argv(["ls", "-l"])
    assert argv[:2] == [SANDBOX_EXEC, "-p"]
    assert argv[3] == f"-DWRITABLE_ROOT_0={PROJECT}"
    assert argv[-3:] == ["--", "ls", "-l"]


def test_paths_are_canonicalised_by_default(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    profile = seatbelt_profile(ConfinementPlan(writable_roots=(WritableRoot(link),)))
    assert profile.params == (("WRITABLE_ROOT_0", str(real)),)


def test_unconfined_plan_has_no_profile() -> None:
    with pytest.raises(ValueError, match="unconfined"):
        seatbelt_profile(ConfinementPlan(unconfined=True))


@pytest.mark.skipif(
    shutil.which("sandbox-exec") is None, reason="sandbox-exec exists only on macOS"
)
def test_sandbox_exec_accepts_the_profiles(tmp_path: Path) -> None:
    plan = ConfinementPlan(writable_roots=(WritableRoot(tmp_path),))
    argv = seatbelt_profile(plan).argv(["/usr/bin/touch", str(tmp_path / "ok")])
    assert subprocess.run(argv, check=False, timeout=WAIT_SECONDS).returncode == 0
    denied = seatbelt_profile(plan).argv(["/usr/bin/touch", "/usr/local/llmx-denied"])
    assert subprocess.run(denied, check=False, timeout=WAIT_SECONDS).returncode != 0
