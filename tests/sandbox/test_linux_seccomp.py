"""The seccomp filter against the real kernel: namespace creation through clone/clone3,
terminal ioctls.

A probe process gives itself every capability (a user namespace of its own), shows that
each namespace flag works without the filter, loads the filter and tries again.
"""

from __future__ import annotations

import errno
import json
import subprocess

import pytest
from support.linux_sandbox import PROBES, PYTHON

from llmx.sandbox.linux import kernel, seccomp
from llmx.sandbox.linux.backends import BackendKind, backend_status

pytestmark = pytest.mark.skipif(
    not backend_status(BackendKind.NAMESPACES).available,
    reason="unprivileged user namespaces unavailable: the probe needs one to hold "
           "capabilities")


@pytest.fixture(scope="module", params=[False, True], ids=["network-on", "network-off"])
def report(request: pytest.FixtureRequest) -> dict[str, object]:
    restrict = "1" if request.param else "0"
    proc = subprocess.run([PYTHON, str(PROBES / "seccomp_filter_probe.py"), restrict],
                          capture_output=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _errnos(report: dict[str, object], key: str) -> dict[str, int]:
    found = report[key]
    assert isinstance(found, dict)
    return found


FLAG_NAMES = ["CLONE_NEWUSER", "CLONE_NEWNS", "CLONE_NEWPID", "CLONE_NEWNET",
              "CLONE_NEWIPC", "CLONE_NEWUTS", "CLONE_NEWCGROUP"]


@pytest.mark.parametrize("flag", FLAG_NAMES)
def test_namespace_flag_works_without_the_filter(report: dict[str, object],
                                                 flag: str) -> None:
    # What makes the refusal below the filter's own doing.
    assert _errnos(report, "unfiltered")[flag] == 0


@pytest.mark.parametrize("flag", FLAG_NAMES)
def test_namespace_flag_is_refused_by_the_filter(report: dict[str, object],
                                                 flag: str) -> None:
    assert _errnos(report, "filtered")[flag] == errno.EPERM


def test_all_flags_together_are_refused(report: dict[str, object]) -> None:
    assert report["filtered_all"] == errno.EPERM


def test_plain_clone_still_forks(report: dict[str, object]) -> None:
    assert report["plain_fork"] == [0, 0]


def test_high_word_bits_make_no_namespace(report: dict[str, object]) -> None:
    # The kernel reads the low 32 bits of clone's flags only: a flag in the high word is
    # neither refused nor obeyed (the child stays in the parent's user namespace).
    assert report["high_word_only"] == [0, 0]


def test_clone3_is_not_implemented_under_the_filter(report: dict[str, object]) -> None:
    assert report["unfiltered_clone3"] == 0, "this kernel lacks clone3 itself"
    assert report["clone3_plain"] == errno.ENOSYS
    assert report["clone3_newuser"] == errno.ENOSYS


def test_terminal_injection_is_refused_by_the_filter(report: dict[str, object]) -> None:
    before, after = _errnos(report, "ioctl_unfiltered"), _errnos(report, "ioctl_filtered")
    if before["TIOCSTI"] != 0:
        code = errno.errorcode[before["TIOCSTI"]]
        pytest.skip(f"TIOCSTI is refused by this kernel itself ({code}; "
                    "dev.tty.legacy_tiocsti = 0)")
    assert after["TIOCSTI"] == errno.EPERM
    # The kernel reads the request as 32 bits: bits above them change nothing.
    assert before["TIOCSTI_high_word"] == 0
    assert after["TIOCSTI_high_word"] == errno.EPERM


def test_tioclinux_is_refused_by_the_filter(report: dict[str, object]) -> None:
    before, after = _errnos(report, "ioctl_unfiltered"), _errnos(report, "ioctl_filtered")
    assert before["TIOCLINUX"] not in (0, errno.EPERM)  # a pty is no virtual console
    assert after["TIOCLINUX"] == errno.EPERM


def test_other_terminal_ioctls_still_work(report: dict[str, object]) -> None:
    assert _errnos(report, "ioctl_filtered")["TCGETS"] == 0


@pytest.mark.parametrize("call", ["keyctl", "add_key", "request_key"])
def test_keyring_calls_are_refused_by_the_filter(report: dict[str, object],
                                                 call: str) -> None:
    before, after = _errnos(report, "keys_unfiltered"), _errnos(report, "keys_filtered")
    assert before[call] != errno.EPERM, "refused without the filter already"
    assert after[call] == errno.EPERM


@pytest.mark.parametrize("call", ["socket", "socketpair"])
@pytest.mark.parametrize("kind", ["dgram", "dgram_cloexec", "raw"])
def test_unix_datagram_sockets_are_refused_with_the_network_off(
        report: dict[str, object], call: str, kind: str) -> None:
    key = f"{call}_{kind}"
    assert _errnos(report, "unix_unfiltered")[key] == 0
    expected = errno.EPERM if report["restrict_network"] else 0
    assert _errnos(report, "unix_filtered")[key] == expected


@pytest.mark.parametrize("call", ["socket", "socketpair"])
@pytest.mark.parametrize("kind", ["stream", "seqpacket", "stream_nonblock"])
def test_unix_connection_sockets_still_work(report: dict[str, object], call: str,
                                            kind: str) -> None:
    assert _errnos(report, "unix_filtered")[f"{call}_{kind}"] == 0


def test_filter_mask_names_every_namespace_flag() -> None:
    for flag in (kernel.CLONE_NEWUSER, kernel.CLONE_NEWNS, kernel.CLONE_NEWPID,
                 kernel.CLONE_NEWNET, kernel.CLONE_NEWIPC, kernel.CLONE_NEWUTS,
                 kernel.CLONE_NEWCGROUP, kernel.CLONE_NEWTIME):
        assert seccomp.NAMESPACE_CLONE_FLAGS & flag == flag
    assert seccomp.NAMESPACE_CLONE_FLAGS >> 32 == 0
