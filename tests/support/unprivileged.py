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

import atexit
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


def _reachable(path: str | Path) -> bool:
    """Whether any user can reach ``path``: every folder above it searchable by others,
    both on the way it is named and on the way its links lead (a link's own folder must
    be crossed before the link is followed)."""
    def searchable(chain: Path) -> bool:
        return all(folder.stat().st_mode & stat.S_IXOTH for folder in chain.parents)
    try:
        named = Path(os.path.abspath(path))
        real = Path(os.path.realpath(path))
        return searchable(named) and searchable(real) and \
            bool(real.stat().st_mode & (stat.S_IXOTH | stat.S_IROTH))
    except OSError:
        return False


_checkout_copy: Path | None = None


def checkout_for_nobody() -> Path:
    """The checkout as nobody can reach it: itself where it can (every folder above it
    searchable by others), else a copy of it (hard links where the file system allows,
    made once per run and removed at its end) in a fresh folder under the temporary
    folder. A clone under ``mktemp -d`` (mode 0700) is the usual case of the second."""
    global _checkout_copy
    if _reachable(_ROOT):
        return _ROOT
    if _checkout_copy is None:
        holder = Path(tempfile.mkdtemp(prefix="llmx-tests-checkout-"))
        holder.chmod(0o755)
        atexit.register(shutil.rmtree, holder, ignore_errors=True)
        copy = holder / _ROOT.name
        copy.mkdir()
        entries = [str(entry) for entry in _ROOT.iterdir() if entry.name != ".git"]
        linked = subprocess.run(["cp", "-al", *entries, str(copy)], capture_output=True,
                                timeout=600, check=False)
        if linked.returncode != 0:  # another file system: copy the bytes
            shutil.rmtree(copy)
            copy.mkdir()
            subprocess.run(["cp", "-a", *entries, str(copy)], check=True, timeout=600)
        # The editable install's .pth names this checkout: the copy's names the copy (a
        # new file, not a write through the hard link into the original). Sandboxed
        # commands, whose environment is their own, import llmx through it.
        for pth in copy.glob(".venv/lib/python*/site-packages/*.pth"):
            text = pth.read_text()
            if str(_ROOT) in text:
                pth.unlink()
                pth.write_text(text.replace(str(_ROOT), str(copy)))
        _checkout_copy = copy
    return _checkout_copy


def _in_checkout(path: str | Path, checkout: Path) -> Path:
    """``path`` of this checkout as it is found in ``checkout`` (the same or its copy)."""
    try:
        return checkout / Path(path).relative_to(_ROOT)
    except ValueError:
        return Path(path)


def environment_for_nobody(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process nobody runs from this checkout: llmx is imported from the
    checkout nobody reaches (the editable install names this one's path)."""
    checkout = checkout_for_nobody()
    return {**env, "PYTHONPATH": os.pathsep.join(
        [str(checkout), *filter(None, [env.get("PYTHONPATH")])])}


def interpreter_for_nobody(base: Path) -> str | None:
    """A Python nobody can run, with this one's packages: this interpreter (or its copy
    in the checkout nobody reaches) when it can, else a virtual environment in ``base``
    on the system's Python of the same version (an interpreter under root's home is out
    of nobody's reach), reading this one's site-packages. The sandboxed commands run it
    too (``sys.executable``)."""
    checkout = checkout_for_nobody()
    executable = _in_checkout(sys.executable, checkout)
    if _reachable(executable):
        return str(executable)
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
    ours = _in_checkout(next(p for p in map(Path, sys.path) if p.name == "site-packages"
                             and str(p).startswith(sys.prefix)), checkout)
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
        env = environment_for_nobody({**os.environ, INNER: "1", "HOME": str(base / "home"),
                                      "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(base)})
        command = ["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--",
                   python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--basetemp={base / 'tmp'}", f"--junitxml={report}", *nodeids]
        done = subprocess.run(command, cwd=checkout_for_nobody(), env=env,
                              capture_output=True, text=True, timeout=1800, check=False)
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
