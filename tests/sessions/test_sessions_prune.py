"""``llmx sessions prune`` and ``llmx sessions size`` on a home of real Codex rollouts:
what is old goes (after being named), a parent a kept fork continues stays, the index
lists only what remains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
DAY = 86400


def install(home: Path, fixture: Path, *, age_days: float, archived: bool = False) -> Path:
    data = fixture.read_bytes()
    meta = json.loads(data.split(b"\n", 1)[0])["payload"]
    name = f"rollout-2026-11-21T05-31-40-{meta['id']}.jsonl"
    folder = home / ("archived_sessions" if archived else "sessions/2026/11/21")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def llmx(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LLMX_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "llmx", "sessions", *args], env=env,
                          capture_output=True, text=True, timeout=WAIT_SECONDS,
                          stdin=subprocess.DEVNULL, check=False)


def listed(home: Path, *extra: str) -> set[str]:
    result = llmx(home, "list", "--json", "--limit", "50", *extra)
    assert result.returncode == 0, result.stderr
    return {row["id"] for row in json.loads(result.stdout)["data"]}


def test_prune_deletes_what_is_old_names_it_and_keeps_what_a_fork_needs(
    tmp_path: Path
) -> None:
    home = tmp_path / "home"
    rich = FIXTURES / "codex-rich" / "rollouts"
    parent = install(home, rich / "fork_and_revert__original.rollout.jsonl", age_days=60)
    fork = install(home, rich / "fork_and_revert__full_fork.rollout.jsonl", age_days=1)
    old_base = install(home, rich / "tui_fork_last__base.rollout.jsonl", age_days=90)
    old_fork = install(home, rich / "tui_fork_last__fork.rollout.jsonl", age_days=80)
    archived = install(home, FIXTURES / "codex" / "rollouts" /
                       "exec_json_say_hi.rollout.jsonl", age_days=40, archived=True)
    recent = install(home, FIXTURES / "codex" / "rollouts" /
                     "exec_plain_say_hi.rollout.jsonl", age_days=2)
    ids = {path: json.loads(path.read_bytes().split(b"\n", 1)[0])["payload"]["id"]
           for path in (parent, fork, old_base, old_fork, archived, recent)}
    before = listed(home) | listed(home, "--archived")

    dry = llmx(home, "prune", "--older-than", "30d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert sorted(line.split()[2] for line in lines if line.startswith("would delete")) == \
        sorted(ids[path] for path in (old_base, old_fork, archived))
    [kept] = [line for line in lines if line.startswith("keeping")]
    assert ids[parent] in kept
    assert kept.endswith(f"(session {ids[fork]} continues its history)")
    assert lines[-1].endswith("would be deleted")
    assert all(path.exists() for path in ids)

    # Not on a terminal and without --yes: refused, nothing deleted.
    refused = llmx(home, "prune", "--older-than", "30d")
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "llmx sessions prune: not deleting 3 session(s) — pass --yes to delete without "
        "asking, or --dry-run to look first")
    assert all(path.exists() for path in ids)

    done = llmx(home, "prune", "--older-than", "30d", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("deleted 3 session(s), ")
    assert [path.exists() for path in ids] == [True, True, False, False, False, True]
    # The index lists exactly what is left; the fork still resumes whole (its parent stayed).
    after = listed(home) | listed(home, "--archived")
    assert after == before - {ids[old_base], ids[old_fork], ids[archived]}
    assert llmx(home, "prune", "--older-than", "30d", "--yes").stdout.startswith(
        "keeping  ")

    size = llmx(home, "size", "--json")
    assert size.returncode == 0, size.stderr
    report = json.loads(size.stdout)
    assert report["areas"]["sessions"] == {
        "files": 3, "bytes": sum(p.stat().st_size for p in (parent, fork, recent))}
    assert report["areas"]["archived_sessions"] == {"files": 0, "bytes": 0}
    assert [row["id"] for row in report["largest"]] == [
        ids[p] for p in sorted((parent, fork, recent), key=lambda p: -p.stat().st_size)]


def test_a_bad_age_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = llmx(home, "prune", "--older-than", "soon")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "llmx sessions prune: --older-than 'soon': not a duration — write it as a number and "
        "a unit: 90m, 12h, 30d or 8w"]


def test_rename_records_the_name_in_the_rollout_and_the_listing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = install(home, FIXTURES / "codex" / "rollouts" / "exec_plain_say_hi.rollout.jsonl",
                   age_days=1)
    thread_id = json.loads(path.read_bytes().split(b"\n", 1)[0])["payload"]["id"]
    before = path.read_bytes()
    done = llmx(home, "rename", thread_id[:8], "  the   greeting ")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"named session {thread_id}: the greeting\n"
    rows = json.loads(llmx(home, "list", "--json").stdout)["data"]
    assert [(row["id"], row["thread_name"]) for row in rows] == [(thread_id, "the greeting")]
    # Appended, as Codex's rename appends: the earlier lines are untouched.
    after = path.read_bytes()
    assert after.startswith(before)
    added = [json.loads(line) for line in after[len(before):].splitlines()]
    assert [line["payload"] for line in added if line["type"] == "event_msg"] == [
        {"type": "thread_name_updated", "thread_id": thread_id, "thread_name": "the greeting"}]
    # By its new name it can be found again; an empty name is refused in one line.
    assert llmx(home, "show", "the greeting", "--json").returncode == 0
    empty = llmx(home, "rename", thread_id, "   ")
    assert empty.returncode == 1
    assert empty.stderr.splitlines() == [
        "llmx sessions rename: the name is empty — give the session a name"]
