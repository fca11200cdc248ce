"""The landlock backend's tests run as an unprivileged user when the suite runs as root
(``support.unprivileged``)."""

from __future__ import annotations

import pytest
from support import unprivileged


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not unprivileged.delegated(pyfuncitem):
        return None
    outcome, report = unprivileged.outcome(pyfuncitem)
    if outcome == "skipped":
        pytest.skip(report)
    if outcome == "xfailed":
        pytest.xfail(report)
    if outcome != "passed":
        pytest.fail(f"as nobody (the landlock backend refuses root):\n{report}", pytrace=False)
    return True
