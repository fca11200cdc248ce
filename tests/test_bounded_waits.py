"""The suite waits for processes with a bound (see ``support/waits.py``).

Read from the tests' own source: ``subprocess.run`` and ``communicate`` without a
``timeout``, ``os.waitpid(pid, 0)``, and ``wait()`` or ``join()`` without arguments wait
for ever when the process (or thread) they wait for never ends; such a test would hang
until pytest-timeout stops the whole run, saying nothing of what it waited for. A call
whose line says ``# bounded by ...`` is bounded elsewhere, as that comment explains.
"""

from __future__ import annotations

import ast
import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from support.waits import wait_child, within

TESTS = Path(__file__).resolve().parent
# The probes run inside a sandbox, started by a test through a bounded wait that kills
# the whole sandbox (its PID namespace) when it expires.
EXEMPT_FOLDERS = (TESTS / "sandbox" / "probes",)


def unbounded_waits(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` of each wait in ``source`` that has no bound."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, ast.unparse(node.func.value)
        keywords = {keyword.arg for keyword in node.keywords}
        unbounded = (
            (owner == "subprocess" and name in {"run", "call", "check_call", "check_output"}
             and "timeout" not in keywords)
            or (name == "communicate" and "timeout" not in keywords)
            or (owner == "os" and name in {"waitpid", "wait4"} and len(node.args) == 2
                and ast.unparse(node.args[1]) == "0")
            or (owner == "os" and name == "wait")
            or (name in {"wait", "join"} and not node.args and not node.keywords)
        )
        if unbounded and "# bounded by" not in lines[node.lineno - 1]:
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_every_wait_of_the_suite_is_bounded() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{line}: {call}"
        for path in sorted(TESTS.rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in EXEMPT_FOLDERS)
        for line, call in unbounded_waits(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "unbounded waits (give them a timeout):\n" + "\n".join(offenders)


def test_the_check_finds_each_kind_of_unbounded_wait() -> None:
    source = (
        "subprocess.run(['true'])\n"
        "subprocess.run(['true'], timeout=WAIT_SECONDS)\n"
        "proc.communicate()\n"
        "proc.wait()\n"
        "proc.wait(timeout=5)\n"
        "os.waitpid(pid, 0)\n"
        "os.waitpid(pid, os.WNOHANG)\n"
        "thread.join()\n"
        "' '.join(words)\n"
        "done.wait()  # bounded by the test that starts this server\n"
    )
    assert [line for line, _ in unbounded_waits(source)] == [1, 3, 4, 6, 8]


def test_a_child_that_outlives_the_bound_is_killed_and_the_wait_fails() -> None:
    child = subprocess.Popen(["sleep", "60"])
    with pytest.raises(AssertionError, match="waiting for the sleeper"):
        wait_child(child.pid, "the sleeper", timeout=0.1)
    # Reaped by wait_child: the pid is no longer ours to wait for.
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)
    child.returncode = -9  # tell Popen it is gone, so it does not look for it again


def test_an_await_that_outlives_the_bound_fails_naming_it() -> None:
    with pytest.raises(AssertionError, match="waiting for the nap"):
        asyncio.run(within(asyncio.sleep(60), "the nap", seconds=0.1))
