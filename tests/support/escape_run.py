"""One run of the escape probe on one route, judged on the host (shared by the test suite
and ``bench/escape_compare.py``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from support.escape_arena import Arena
from support.escape_attempts import ALLOWED, ALLOWED_NEEDS, ATTEMPTS, METADATA, Attempt
from support.escape_routes import EscapeRoute


@dataclass
class RouteResult:
    route: EscapeRoute
    # attempt -> True (got through), False (stopped), or why it was not tried
    verdicts: dict[str, bool | str]
    allowed: dict[str, bool | str]
    exit_code: int
    log: str

    def escaped(self) -> list[str]:
        return [name for name, verdict in self.verdicts.items() if verdict is True]


def not_applicable(attempt: Attempt, route: EscapeRoute) -> str | None:
    """Why ``attempt`` is not tried on ``route`` (None: it is)."""
    missing = [program for program in attempt.needs if shutil.which(program) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    if attempt.group == METADATA and not route.protects_metadata:
        return "the landlock backend refuses plans with protected paths"
    return None


def run_route(route: EscapeRoute, base: Path) -> RouteResult:
    skipped = {a.name: why for a in ATTEMPTS if (why := not_applicable(a, route))}
    tried = [a for a in ATTEMPTS if a.name not in skipped]
    allowed_skipped = {
        name: f"{', '.join(needs)} not installed" for name, needs in ALLOWED_NEEDS.items()
        if any(shutil.which(program) is None for program in needs)}
    allowed = [name for name in ALLOWED if name not in allowed_skipped]
    arena = Arena(base, unchanged=[a.name for a in tried if a.prepare == "file"],
                  needs_dir=[a.name for a in tried if a.prepare == "dir"],
                  protects_metadata=route.protects_metadata)
    with arena.running():
        command = arena.probe_command([a.name for a in tried] + allowed)
        evidence = arena.run(route.argv(arena, command), env=route.env(arena))
        # Judged before the arena is undone (a file in /etc, a kernel setting).
        verdicts: dict[str, bool | str] = {a.name: a.judge(evidence) for a in tried}
        worked: dict[str, bool | str] = {name: ALLOWED[name](evidence) for name in allowed}
    verdicts.update(skipped)
    worked.update(allowed_skipped)
    order = [a.name for a in ATTEMPTS]
    return RouteResult(route, {name: verdicts[name] for name in order},
                       {name: worked[name] for name in ALLOWED}, evidence.exit_code,
                       evidence.probe_log)
