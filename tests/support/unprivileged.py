"""Tests of the landlock backend as an unprivileged user, when the suite runs as root.

The landlock backend refuses root (root owns every system file, and Landlock does not
govern file modes), so as root its tests would all be skipped. Instead each such test runs
in a second pytest, started as ``nobody`` through ``setpriv`` with a base temporary folder
of its own: the same test code, its fixtures, the probe and the judges, all run by that
user on the host, outside any sandbox, exactly as they would in a suite run by an ordinary
user. The outer test reports the inner one's outcome (passed, failed with its report,
skipped or xfailed with its reason). The tests of one module are run together, once.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from llmx.sandbox.linux import landlock
from llmx.sandbox.linux.backends import BackendKind, BackendStatus, backend_status, seccomp_status

# nobody:nogroup, the user every Linux system has.
UID = GID = 65534
# Set in the inner pytest, so that it runs its tests itself.
INNER = "LLMX_TESTS_AS_UNPRIVILEGED_USER"
_ROOT = Path(__file__).resolve().parents[2]
_outcomes: dict[str, tuple[str, str]] = {}


def elsewhere(kind: BackendKind | str | None) -> bool:
    """Whether tests of backend ``kind`` run as the unprivileged user (see module)."""
    return (kind in (BackendKind.LANDLOCK, BackendKind.LANDLOCK.value)
            and os.geteuid() == 0 and not os.environ.get(INNER))


def status_for_tests(kind: BackendKind) -> BackendStatus:
    """``backend_status`` for the user the tests of ``kind`` run as."""
    if not elsewhere(kind):
        return backend_status(kind)
    ok, why = seccomp_status()
    if not ok:
        return BackendStatus(kind, False, why)
    if landlock.abi_version() == 0:
        return BackendStatus(kind, False, "Landlock is not enabled in this kernel")
    if shutil.which("setpriv") is None:
        return BackendStatus(kind, False, "refused as root, and setpriv(1), to run its tests "
                             "as another user, is not installed")
    return BackendStatus(kind, True, "run as nobody through setpriv (it refuses root)")


def _landlock_param(value: object) -> bool:
    backend = getattr(value, "backend", value)
    return elsewhere(backend)  # type: ignore[arg-type]


def delegated(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(_landlock_param(v) for v in callspec.params.values())


def outcome(item: pytest.Item) -> tuple[str, str]:
    """("passed" | "failed" | "skipped" | "xfailed", report) of ``item`` run as nobody."""
    if item.nodeid not in _outcomes:
        module = item.nodeid.split("::", 1)[0]
        group = [other.nodeid for other in item.session.items
                 if other.nodeid.split("::", 1)[0] == module and delegated(other)]
        _outcomes.update(_run_as_nobody(group))
    return _outcomes.get(item.nodeid, ("failed", "the inner run did not report this test"))


def _reachable(path: str) -> bool:
    """Whether any user can run ``path`` (every folder above it searchable by others)."""
    real = Path(os.path.realpath(path))
    try:
        return all(folder.stat().st_mode & stat.S_IXOTH for folder in real.parents) and \
            bool(real.stat().st_mode & stat.S_IXOTH)
    except OSError:
        return False


def interpreter_for_nobody(base: Path) -> str | None:
    """A Python nobody can run, with this one's packages: this interpreter when it can,
    else a virtual environment in ``base`` on the system's Python of the same version
    (an interpreter under root's home is out of nobody's reach), reading this one's
    site-packages. The sandboxed commands run it too (``sys.executable``)."""
    if _reachable(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}")
                   if _reachable(p)), None)
    if system is None:
        return None
    venv = base / "venv"
    site = venv / "lib" / version / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(system)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(system).parent}\n"
                                     "include-system-site-packages = false\n")
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages" and
                str(p).startswith(sys.prefix))
    (site / "llmx-tests.pth").write_text(f"import site; site.addsitedir({str(ours)!r})\n")
    return str(venv / "bin" / "python")


def _run_as_nobody(nodeids: list[str]) -> dict[str, tuple[str, str]]:
    base = Path(tempfile.mkdtemp(prefix="llmx-tests-as-nobody-"))
    try:
        (base / "home").mkdir()
        for path in (base, base / "home"):
            os.chown(path, UID, GID)
        python = interpreter_for_nobody(base)
        if python is None:
            reason = "no Python interpreter the unprivileged user can run"
            return dict.fromkeys(nodeids, ("skipped", reason))
        report = base / "report.xml"
        env = {**os.environ, INNER: "1", "HOME": str(base / "home"),
               "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(base)}
        command = ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--",
                   python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--basetemp={base / 'tmp'}", f"--junitxml={report}", *nodeids]
        done = subprocess.run(command, cwd=_ROOT, env=env, capture_output=True, text=True,
                              timeout=1800, check=False)
        if not report.exists():
            reason = f"the run as nobody reported nothing:\n{done.stdout[-3000:]}" \
                     f"{done.stderr[-3000:]}"
            return dict.fromkeys(nodeids, ("failed", reason))
        return _parse(report, nodeids)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _parse(report: Path, nodeids: list[str]) -> dict[str, tuple[str, str]]:
    by_name = {nodeid.split("::", 1)[1]: nodeid for nodeid in nodeids}
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).iter("testcase"):
        nodeid = by_name.get(case.get("name", ""))
        if nodeid is None:
            continue
        result = ("passed", "")
        for child in case:
            text = f"{child.get('message', '')}\n{child.text or ''}".strip()
            if child.tag in ("failure", "error"):
                result = ("failed", text)
            elif child.tag == "skipped":
                kind = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                result = (kind, child.get("message", ""))
        found[nodeid] = result
    return found
