"""The shared session index on a real PostgreSQL started by this test module.

Homes are synced with ``llmx sessions sync`` in real processes (two at once, one killed
with SIGKILL mid-sync), and read back with ``sessions list/search/show`` from a third
home, compared with the sqlite index of the same files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import expected_install_hint
from support.postgres import PostgresServer, find_bin, running_server
from support.waits import WAIT_SECONDS, wait_until

from llmx.events.home import rollout_path_for

_BIN, _WHY = find_bin()
try:
    import psycopg  # noqa: F401  (the optional extra scripts/check installs)
except ImportError:  # pragma: no cover - depends on the environment
    _WHY = _WHY or "psycopg is not installed (the 'postgres' extra of pyproject.toml)"
    _BIN = None

pytestmark = pytest.mark.skipif(_BIN is None, reason=_WHY)

WRITER_PASSWORD = "wr1ter-Pa55-c3a9"
READER_PASSWORD = "r3ader-Pa55-71bd"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with running_server() as pg:
        pg.sql(f"CREATE ROLE llmx_writer LOGIN PASSWORD '{WRITER_PASSWORD}'")
        pg.sql(f"CREATE ROLE llmx_reader LOGIN PASSWORD '{READER_PASSWORD}'")
        yield pg


class Team:
    """One database of the server: the writer owns it, the reader may only SELECT."""

    def __init__(self, server: PostgresServer, name: str) -> None:
        self.server = server
        self.name = name
        server.sql(f"CREATE DATABASE {name} OWNER llmx_writer")

    @property
    def writer(self) -> str:
        return self.server.url("llmx_writer", WRITER_PASSWORD, self.name)

    @property
    def reader(self) -> str:
        return self.server.url("llmx_reader", READER_PASSWORD, self.name)

    def grant_reader(self) -> None:
        import psycopg

        with psycopg.connect(self.writer, autocommit=True) as conn:
            conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO llmx_reader")

    def count(self, sql: str) -> int:
        import psycopg

        with psycopg.connect(self.writer, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


@pytest.fixture
def team(server: PostgresServer) -> Team:
    return Team(server, f"t_{uuid.uuid4().hex[:12]}")


def _write_sessions(home: Path, count: int, *, start: datetime, words: str = "") -> list[str]:
    """``count`` one-turn sessions, a minute apart, each file's mtime its start."""
    ids = []
    for i in range(count):
        thread_id = str(uuid.uuid4())
        started = start + timedelta(minutes=i)
        stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        path = rollout_path_for(home, thread_id, started)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lines = [
            {"timestamp": stamp, "type": "session_meta", "payload": {
                "id": thread_id, "timestamp": stamp, "cwd": f"/w/p{i % 3}",
                "originator": "codex_exec", "cli_version": "0.169.0", "source": "exec",
                "model_provider": "mock", "base_instructions": {"text": "be brief " * 200}}},
            {"timestamp": stamp, "type": "turn_context", "payload": {
                "turn_id": "t1", "cwd": f"/w/p{i % 3}", "approval_policy": "never",
                "sandbox_policy": {"type": "read-only"}, "model": "mock-model"}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "user_message", "message": f"repair widget {i} {words}".strip()}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": {"total_tokens": 10 + i}}}},
        ]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        moment = started.timestamp()
        os.utime(path, (moment, moment))
        ids.append(thread_id)
    return ids


def _env(home: Path) -> dict[str, str]:
    """The environment of a machine whose home is ``home`` (made if new: llmx refuses an
    LLMX_HOME that does not exist)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "PG"))}
    env["LLMX_HOME"] = str(home)
    return env


def _llmx(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "llmx", *args], env=_env(home),
                          capture_output=True, text=True, timeout=WAIT_SECONDS)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _pages(home: Path, *args: str, limit: int = 4, most: int = 100) -> list[dict[str, Any]]:
    """The pages of ``sessions list --json --limit N`` (at most ``most``), following the
    cursors."""
    pages = []
    cursor: list[str] = []
    while True:
        done = _llmx(home, "sessions", "list", "--json", "--limit", str(limit), *cursor, *args)
        page = json.loads(done.stdout)
        pages.append(page)
        if page["next_cursor"] is None or len(pages) == most:
            return pages
        cursor = ["--cursor", page["next_cursor"]]


def test_listing_search_and_show_equal_the_sqlite_index(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    ids = _write_sessions(home, 10, start=datetime(2026, 3, 1, 9), words="alpha")
    third = tmp_path / "reader"
    sync = _llmx(home, "sessions", "sync", "--index-url", team.writer)
    assert "10 of 10 rollout files sent" in sync.stdout
    url = ["--index-url", team.writer]
    # Same rows, same order, same cursors, page by page; plain output too.
    assert _pages(third, *url) == _pages(home)
    assert _pages(third, *url, "--cwd", "/w/p1") == _pages(home, "--cwd", "/w/p1")
    plain = _llmx(third, "sessions", "list", "--limit", "3", *url)
    local = _llmx(home, "sessions", "list", "--limit", "3")
    assert (plain.stdout, plain.stderr) == (local.stdout, local.stderr)
    found = _llmx(third, "sessions", "search", "widget 7", "--json", *url)
    assert found.stdout == _llmx(home, "sessions", "search", "widget 7", "--json").stdout
    assert [row["id"] for row in json.loads(found.stdout)["data"]] == [ids[7]]
    shown = json.loads(_llmx(third, "sessions", "show", ids[3][:13], "--json", *url).stdout)
    local_show = json.loads(_llmx(home, "sessions", "show", ids[3], "--json").stdout)
    origin = {"machine": shown.pop("machine"), "user": shown.pop("user")}
    assert shown == local_show
    assert origin["machine"]
    assert origin["user"]


def test_two_homes_sync_at_once_and_a_third_reads_both(tmp_path: Path, team: Team) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    ids_a = _write_sessions(homes[0], 300, start=datetime(2026, 3, 1, 9), words="apple")
    ids_b = _write_sessions(homes[1], 300, start=datetime(2026, 3, 1, 9, 0, 30),
                            words="banana")
    # What each home's own (sqlite) index lists, before the homes are set to the shared one.
    local = [row for home in homes
             for row in json.loads(_llmx(home, "sessions", "list", "--json", "--limit",
                                         "1000").stdout)["data"]]
    local.sort(key=lambda row: (row["updated_at"], row["id"]), reverse=True)
    for home, machine in zip(homes, ("alpha", "beta"), strict=True):
        home.joinpath("config.toml").write_text(f'[index]\nurl = "{team.writer}"\n'
                                                f'machine = "{machine}"\n')
    runs = [subprocess.Popen([sys.executable, "-m", "llmx", "sessions", "sync"],
                             env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for home in homes]
    for run in runs:
        out, err = run.communicate(timeout=WAIT_SECONDS)
        assert run.returncode == 0, err
        assert "300 of 300 rollout files sent" in out
    assert team.count("SELECT count(*) FROM llmx_threads") == 600
    assert team.count("SELECT count(*) FROM llmx_messages") == 600
    assert team.count("SELECT count(DISTINCT machine) FROM llmx_threads") == 2
    third = tmp_path / "c"
    url = ["--index-url", team.writer]
    listed = json.loads(_llmx(third, "sessions", "list", "--json", "--limit", "1000",
                              *url).stdout)
    assert listed["data"] == local
    found = json.loads(_llmx(third, "sessions", "search", "banana widget 12", "--json",
                             *url).stdout)
    assert [row["id"] for row in found["data"]] == [ids_b[12]]
    shown = json.loads(_llmx(third, "sessions", "show", ids_a[5], "--json", *url).stdout)
    assert shown["machine"] == "alpha"
    # Again, both at once: nothing new, nothing sent, nothing doubled.
    runs = [subprocess.Popen([sys.executable, "-m", "llmx", "sessions", "sync"],
                             env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for home in homes]
    for run in runs:
        out, err = run.communicate(timeout=WAIT_SECONDS)
        assert run.returncode == 0, err
        assert "0 of 300 rollout files sent" in out
    assert team.count("SELECT count(*) FROM llmx_messages") == 600


def test_a_sync_killed_midway_loses_and_doubles_nothing(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    total = 4000
    _write_sessions(home, total, start=datetime(2026, 1, 1, 9))
    url = ["--index-url", team.writer]
    # The tables first, so the sync's progress can be watched from here.
    _llmx(tmp_path / "empty", "sessions", "sync", *url)
    run = subprocess.Popen([sys.executable, "-m", "llmx", "sessions", "sync", *url],
                           env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: team.count("SELECT count(*) FROM llmx_files") > 0,
                   "the first batch of the sync", interval=0.005)
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.wait(timeout=WAIT_SECONDS)
    sent = team.count("SELECT count(*) FROM llmx_files")
    assert 0 < sent < total, "the sync finished before it could be killed"
    # Whatever was committed is whole: each recorded file has its message.
    assert team.count("SELECT count(*) FROM llmx_messages") == sent
    again = _llmx(home, "sessions", "sync", *url)
    assert f"{total - sent} of {total} rollout files sent" in again.stdout
    assert team.count("SELECT count(*) FROM llmx_threads") == total
    assert team.count("SELECT count(*) FROM llmx_messages") == total
    assert team.count("SELECT count(*) FROM (SELECT thread_id FROM llmx_messages "
                      "GROUP BY thread_id HAVING count(*) > 1) doubled") == 0
    shared = _pages(tmp_path / "c", *url, "--cwd", "/w/p2", limit=500, most=2)
    assert shared == _pages(home, "--cwd", "/w/p2", limit=500, most=2)
    assert len(shared[1]["data"]) == 500


def test_a_resync_sends_only_what_was_appended(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    ids = _write_sessions(home, 5, start=datetime(2026, 3, 1, 9))
    url = ["--index-url", team.writer]
    _llmx(home, "sessions", "sync", *url)
    path = next(home.glob(f"sessions/**/*{ids[2]}.jsonl"))
    size = path.stat().st_size
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"timestamp": "2026-03-01T10:00:00.000Z", "type": "event_msg",
                                 "payload": {"type": "user_message",
                                             "message": "now polish the gearbox"}}) + "\n")
    again = _llmx(home, "sessions", "sync", *url)
    appended = path.stat().st_size - size
    assert f"1 of 5 rollout files sent ({appended} bytes read)" in again.stdout
    found = json.loads(_llmx(home, "sessions", "search", "gearbox", "--json", *url).stdout)
    assert [row["id"] for row in found["data"]] == [ids[2]]
    assert team.count("SELECT count(*) FROM llmx_messages") == 6
    # A removed file leaves the index with its messages.
    path.unlink()
    gone = _llmx(home, "sessions", "sync", *url)
    assert "1 removed" in gone.stdout
    assert team.count("SELECT count(*) FROM llmx_threads") == 4
    assert team.count("SELECT count(*) FROM llmx_messages") == 4


def test_a_read_only_role_lists_and_shows_but_cannot_sync(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    ids = _write_sessions(home, 3, start=datetime(2026, 3, 1, 9))
    _llmx(home, "sessions", "sync", "--index-url", team.writer)
    team.grant_reader()
    reader = ["--index-url", team.reader]
    listed = json.loads(_llmx(tmp_path / "c", "sessions", "list", "--json", *reader).stdout)
    assert [row["id"] for row in listed["data"]] == ids[::-1]
    _llmx(tmp_path / "c", "sessions", "show", ids[0], *reader)
    _write_sessions(home, 1, start=datetime(2026, 3, 2, 9))
    refused = _llmx(home, "sessions", "sync", *reader, check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("llmx sessions sync: the shared index ")
    assert "this one may only read" in refused.stderr
    assert READER_PASSWORD not in refused.stderr
    assert team.count("SELECT count(*) FROM llmx_threads") == 3


def test_credentials_stay_out_of_errors_output_and_files(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    _write_sessions(home, 2, start=datetime(2026, 3, 1, 9))
    wrong = team.writer.replace(WRITER_PASSWORD, "not-the-Secret-99")
    failed = _llmx(home, "sessions", "list", "--index-url", wrong, check=False)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1, failed.stderr
    assert "password authentication failed" in failed.stderr
    assert "not-the-Secret-99" not in failed.stderr
    assert ":***@" in failed.stderr
    synced = _llmx(home, "sessions", "sync", "--index-url", team.writer)
    assert WRITER_PASSWORD not in synced.stdout + synced.stderr
    for path in home.rglob("*"):
        if path.is_file():
            assert WRITER_PASSWORD.encode() not in path.read_bytes(), path
    not_pg = _llmx(home, "sessions", "list", "--index-url", "mysql://u:pw@127.0.0.1/x",
                   check=False)
    assert not_pg.stderr == ("llmx sessions list: index url 'mysql://u:***@127.0.0.1/x' is not "
                             "a PostgreSQL URL — give [index] url (or --index-url) as "
                             "postgresql://USER@HOST:PORT/DATABASE\n")


def test_reading_before_any_sync_says_what_to_do(tmp_path: Path, team: Team) -> None:
    done = _llmx(tmp_path / "c", "sessions", "list", "--index-url", team.writer, check=False)
    assert done.returncode == 1
    assert "has no sessions yet — run `llmx sessions sync` first" in done.stderr


def test_exec_resume_finds_its_session_in_the_shared_index(tmp_path: Path, team: Team) -> None:
    from e2e.exec_harness import make_env
    from support.model_scripts import Script
    from support.model_server import ModelServer

    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=f'[index]\nurl = "{team.writer}"\nmachine = "here"\n')
        assert env.run("first question").returncode == 0
        [rollout] = env.rollouts()
        thread_id = json.loads(rollout.read_text().splitlines()[0])["payload"]["id"]
        _llmx(env.home, "sessions", "sync")
        # The local index is gone: the lookups below can only come from the shared one.
        (env.home / "state.sqlite").unlink()
        resumed = env.run("resume", thread_id[:13], "second question")
        assert resumed.returncode == 0, resumed.stderr
        assert env.rollouts() == [rollout]
        assert "second question" in rollout.read_text()
        last = env.run("resume", "--last", "third question")
        assert last.returncode == 0, last.stderr
        assert "third question" in rollout.read_text()
        # A session synced from another machine is found, and refused here.
        other = tmp_path / "other"
        [foreign] = _write_sessions(other, 1, start=datetime(2026, 3, 1, 9))
        other.joinpath("config.toml").write_text(
            f'[index]\nurl = "{team.writer}"\nmachine = "elsewhere"\n')
        _llmx(other, "sessions", "sync")
        refused = env.run("resume", foreign, "hello")
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"llmx exec: session {foreign} ran on elsewhere (")
        assert "not on here — resume it there, or copy its rollout here and pass its path" in (
            refused.stderr)
        assert WRITER_PASSWORD not in rollout.read_text()


def test_sync_needs_a_url_and_the_flag_wins_over_the_config(tmp_path: Path, team: Team) -> None:
    home = tmp_path / "a"
    ids = _write_sessions(home, 2, start=datetime(2026, 3, 1, 9))
    unset = _llmx(home, "sessions", "sync", check=False)
    assert (unset.returncode, unset.stdout) == (1, "")
    assert unset.stderr == ("llmx sessions sync: no shared index is configured — pass "
                            "--index-url postgresql://... or set [index] url in config.toml\n")
    # A config naming a server that is not there: the flag is used instead.
    home.joinpath("config.toml").write_text(
        '[index]\nurl = "postgresql://nobody@127.0.0.1:1/none"\nmachine = "m1"\n')
    _llmx(home, "sessions", "sync", "--index-url", team.writer)
    shown = json.loads(_llmx(home, "sessions", "show", ids[1], "--json", "--index-url",
                             team.writer).stdout)
    assert shown["machine"] == "m1"
    plain = _llmx(home, "sessions", "show", ids[1], "--index-url", team.writer).stdout
    assert "machine:        m1\n" in plain
    down = _llmx(home, "sessions", "list", check=False)
    assert down.returncode == 1
    assert down.stderr.startswith("llmx sessions list: cannot connect to the shared index "
                                  "postgresql://nobody@127.0.0.1:1/none: ")


def test_names_given_after_a_sync_reach_the_shared_index(tmp_path: Path, team: Team) -> None:
    """A sync with no file changed still sends the names given, changed since, or given
    back to a thread whose file did not change."""
    from llmx.projections.thread_names import set_thread_name

    home = tmp_path / "a"
    ids = _write_sessions(home, 3, start=datetime(2026, 3, 1, 9))
    url = ["--index-url", team.writer]
    _llmx(home, "sessions", "sync", *url)

    def stored() -> dict[str, Any]:
        return {row["id"]: row["thread_name"] for row in json.loads(
            _llmx(home, "sessions", "list", "--json", *url).stdout)["data"]}

    assert set(stored().values()) == {None}
    set_thread_name(home, ids[1], "gearbox work")
    again = _llmx(home, "sessions", "sync", *url)
    assert "0 of 3 rollout files sent" in again.stdout
    assert stored() == {ids[0]: None, ids[1]: "gearbox work", ids[2]: None}
    set_thread_name(home, ids[1], "gearbox, done")
    set_thread_name(home, ids[2], "widgets")
    _llmx(home, "sessions", "sync", *url)
    assert stored() == {ids[0]: None, ids[1]: "gearbox, done", ids[2]: "widgets"}
    shown = json.loads(_llmx(home, "sessions", "show", "widgets", "--json", *url).stdout)
    assert shown["id"] == ids[2]


def test_without_the_driver_the_shared_index_is_one_error_line(tmp_path: Path) -> None:
    """Where the postgres extra is not installed: a folder shadowing psycopg with a
    package that cannot be imported stands for its absence."""
    shadow = tmp_path / "shadow" / "psycopg"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'psycopg'\")\n")
    env = {**_env(tmp_path / "home"), "PYTHONPATH": str(shadow.parent)}
    for command in (["list"], ["sync"], ["search", "widget"], ["show", "x"]):
        done = subprocess.run(
            [sys.executable, "-m", "llmx", "sessions", *command, "--index-url",
             "postgresql://u:secret@127.0.0.1:1/db"],
            env=env, capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)
        assert done.returncode == 1, done.stderr
        assert done.stderr == (
            f"llmx sessions {command[0]}: the shared index needs the PostgreSQL driver "
            "psycopg, which cannot be imported (No module named 'psycopg') — "
            f"{expected_install_hint('postgres')}\n")


def test_a_home_leaves_the_names_of_another_home_of_its_machine(tmp_path: Path,
                                                                 team: Team) -> None:
    """Two homes of one machine: a sync of one never clears a name the other gave."""
    from llmx.projections.thread_names import set_thread_name

    first, second = tmp_path / "a", tmp_path / "b"
    [named] = _write_sessions(first, 1, start=datetime(2026, 3, 1, 9))
    [other] = _write_sessions(second, 1, start=datetime(2026, 3, 2, 9))
    set_thread_name(first, named, "gearbox work")
    set_thread_name(second, other, "widgets")
    url = ["--index-url", team.writer]
    _llmx(first, "sessions", "sync", *url)
    _llmx(second, "sessions", "sync", *url)
    _llmx(second, "sessions", "sync", *url)
    listed = json.loads(_llmx(first, "sessions", "list", "--json", *url).stdout)["data"]
    assert {row["id"]: row["thread_name"] for row in listed} == {
        named: "gearbox work", other: "widgets"}
