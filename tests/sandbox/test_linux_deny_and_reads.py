"""Deny entries and restricted reads, enforced by each backend, judged on the host.

A denied file reads as empty and a denied folder cannot be listed, inside a writable root
or outside it, and neither can be removed or renamed away; a restricted plan lets the
command read its readable roots (and the platform's programs) and nothing else. The
landlock backend cannot deny a path inside a readable root: it refuses such a plan.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.linux_sandbox import SpawnRoute, protected, route_params

from llmx.sandbox.linux.backends import BackendKind, UnenforceablePlan
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
# Every way of reading, and of moving aside, what is denied; the host checks the secrets
# never reach the output and the files stay where they were.
_DENIED = """
cat secret.txt; ls -a private; cat private/inner.txt; cat {outside}/far.txt
rm -f secret.txt; mv private gone; rm -rf private; mv {outside}/far.txt moved.txt
echo done
"""


def _layout(tmp_path: Path) -> tuple[Path, Path, dict[Path, str]]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "private").mkdir(parents=True)
    outside.mkdir()
    secrets = {ws / "secret.txt": "s3cret-in-root", ws / "private" / "inner.txt":
               "s3cret-in-folder", outside / "far.txt": "s3cret-outside"}
    for path, text in secrets.items():
        path.write_text(text + "\n")
    return ws, outside, secrets


@pytest.mark.parametrize("route", route_params())
def test_denied_paths_can_be_neither_read_nor_moved(route: SpawnRoute, tmp_path: Path) -> None:
    ws, outside, secrets = _layout(tmp_path)
    plan = ConfinementPlan(writable_roots=(protected(ws, route.backend),),
                           denied_paths=(ws / "secret.txt", ws / "private",
                                         outside / "far.txt"),
                           network=NetworkAccess.RESTRICTED, env=ENV)
    command = ["sh", "-c", _DENIED.format(outside=outside)]
    if route.backend is BackendKind.LANDLOCK:
        with pytest.raises(UnenforceablePlan, match="cannot deny paths"):
            asyncio.run(route.run(command, cwd=ws, plan=plan))
        return
    result = asyncio.run(route.run(command, cwd=ws, plan=plan))
    output = result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().rstrip().endswith("done"), output
    assert not [text for text in secrets.values() if text in output], output
    for path, text in secrets.items():
        assert path.read_text() == text + "\n"
    assert not (ws / "gone").exists()
    assert not (ws / "moved.txt").exists()


@pytest.mark.parametrize("route", route_params())
def test_restricted_reads_reach_only_the_readable_roots(route: SpawnRoute,
                                                        tmp_path: Path) -> None:
    ws, outside, _secrets = _layout(tmp_path)
    (ws / "open.txt").write_text("readable-here\n")
    plan = ConfinementPlan(readable_roots=(ws,), writable_roots=(protected(ws, route.backend),),
                           network=NetworkAccess.RESTRICTED, env=ENV)
    # The platform's programs (the shell, cat) and /etc stay readable (``:minimal``).
    script = f"cat open.txt; cat {outside}/far.txt; ls {outside}; cat /etc/hostname; echo done"
    result = asyncio.run(route.run(["sh", "-c", script], cwd=ws, plan=plan))
    output = result.stdout.decode() + result.stderr.decode()
    assert "readable-here" in output, output
    assert result.stdout.decode().rstrip().endswith("done"), output
    assert "s3cret-outside" not in output
    assert "far.txt\n" not in result.stdout.decode()
    hostname = Path("/etc/hostname")
    if hostname.exists() and hostname.read_text().strip():
        # /etc is a platform root (``:minimal``): readable.
        assert hostname.read_text().strip() in result.stdout.decode()
