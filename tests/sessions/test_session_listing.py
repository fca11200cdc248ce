"""Listing, paging, search and rebuild over 10,000 generated sessions, plus Codex fixtures."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import fixture_rollouts

from llmx.events.home import rollout_path_for, session_index_db_path
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import (
    AmbiguousSession,
    CursorError,
    UnknownSession,
    list_sessions,
    resolve_session,
    resolve_session_id,
    search_sessions,
)

COUNT = 10_000

_BASE = datetime(2026, 3, 1, 9, 0, 0)


def _template_lines(thread_id: str, stamp: str, cwd: str, prompt: str) -> bytes:
    lines = [
        {"timestamp": stamp, "type": "session_meta", "payload": {
            "id": thread_id, "timestamp": stamp, "cwd": cwd, "originator": "codex_exec",
            "cli_version": "0.169.0", "source": "exec", "model_provider": "mock",
            "history_mode": "paginated", "git": {"branch": "main"}}},
        {"timestamp": stamp, "type": "turn_context", "payload": {
            "cwd": cwd, "approval_policy": "never", "sandbox_policy": {"type": "read-only"},
            "model": "mock-model", "summary": "auto"}},
        {"timestamp": stamp, "type": "event_msg", "payload": {
            "type": "item_completed", "thread_id": thread_id, "turn_id": "t1",
            "item": {"type": "UserMessage", "id": "u1",
                     "content": [{"type": "text", "text": prompt, "text_elements": []}]}}},
        {"timestamp": stamp, "type": "event_msg", "payload": {
            "type": "token_count",
            "info": {"total_token_usage": {"total_tokens": 110}}}},
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def generate_sessions(home: Path, count: int, *, cwd_of: int = 3) -> list[str]:
    """``count`` sessions; session i says ``task number i please`` and is i seconds newer.

    Returns thread ids, oldest first. Session i's cwd is ``/home/dev/project-{i % cwd_of}``.
    """
    template = _template_lines("@ID@", "@STAMP@", "@CWD@", "@PROMPT@")
    ids: list[str] = []
    made: set[Path] = set()
    epoch = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    for i in range(count):
        thread_id = str(uuid.UUID(int=(0x019C << 112) | (i << 64) | uuid.uuid4().int >> 64))
        started = _BASE + timedelta(minutes=i)
        path = rollout_path_for(home, thread_id, started)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            made.add(path.parent)
        body = (
            template.replace(b"@ID@", thread_id.encode())
            .replace(b"@STAMP@", started.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode())
            .replace(b"@CWD@", f"/home/dev/project-{i % cwd_of}".encode())
            .replace(b"@PROMPT@", f"task number {i} please".encode())
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, body)
            os.utime(fd, (epoch + i, epoch + i))
        finally:
            os.close(fd)
        ids.append(thread_id)
    return ids


@pytest.fixture(scope="module")
def big_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    home = tmp_path_factory.mktemp("home")
    return home, generate_sessions(home, COUNT)


def _all_pages(index: SessionIndex, **kwargs: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = list_sessions(index, limit=1000, cursor=cursor, **kwargs)  # type: ignore[arg-type]
        seen.extend(row.id for row in page.rows)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.slow
def test_ten_thousand_sessions_list_search_page_and_rebuild(
    big_home: tuple[Path, list[str]],
) -> None:
    home, ids = big_home
    newest_first = list(reversed(ids))
    with SessionIndex.open(home) as index:
        first = list_sessions(index, limit=20)
        assert [row.id for row in first.rows] == newest_first[:20]
        assert first.rows[0].preview == f"task number {COUNT - 1} please"
        assert first.next_cursor is not None
        second = list_sessions(index, limit=20, cursor=first.next_cursor)
        assert [row.id for row in second.rows] == newest_first[20:40]

        assert _all_pages(index) == newest_first
        in_cwd = _all_pages(index, cwd=Path("/home/dev/project-1"))
        assert in_cwd == [tid for i, tid in reversed(list(enumerate(ids))) if i % 3 == 1]

        hits = search_sessions(index, "number 4242")
        assert [row.id for row in hits] == [ids[4242]]
        assert search_sessions(index, "nothing like this") == []
        answers = (
            _all_pages(index),
            [r.id for r in search_sessions(index, "task 777")],
            in_cwd,
        )

    # The index is disposable: delete it, ask again, same answers.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{session_index_db_path(home)}{suffix}").unlink(missing_ok=True)
    with SessionIndex.open(home) as index:
        again = (
            _all_pages(index),
            [r.id for r in search_sessions(index, "task 777")],
            _all_pages(index, cwd=Path("/home/dev/project-1")),
        )
    assert again == answers
    with SessionIndex.open(home) as index:
        index.rebuild()
        assert _all_pages(index) == answers[0]


def _first_meta(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        meta: dict[str, str] = json.loads(handle.readline())["payload"]
    return meta


def _codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    day = home / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True)
    for path in fixture_rollouts():
        meta = _first_meta(path)
        stamp = meta["timestamp"][:19].replace(":", "-")
        suffix = ""
        if path.name.endswith("__revert_segment.rollout.jsonl"):
            suffix = "_" + "0" * 8 + "-0000-7000-8000-" + path.name[:12].encode().hex()[:12]
        shutil.copy(path, day / f"rollout-{stamp}-{meta['id']}{suffix}.jsonl")
    return home


def test_codex_fixture_rollouts_list_correctly(tmp_path: Path) -> None:
    home = _codex_home(tmp_path)
    with SessionIndex.open(home) as index:
        page = list_sessions(index, limit=100)
    by_id = {row.id: row for row in page.rows}
    fixtures = fixture_rollouts()
    thread_ids = {_first_meta(p)["id"] for p in fixtures}
    assert set(by_id) == thread_ids
    # Paginated 0.169 rollouts: the preview comes from item_completed UserMessage items.
    accept = by_id["01a1fc95-f20c-7970-83ab-0012ec77685d"]
    assert accept.preview == "create the marker file (accept)"
    assert accept.tokens_used == 220
    # A revert segment continues its thread: the title stays, the file and tokens move.
    original = by_id["01a1fc96-be8b-7441-95b1-9a5c3369fe94"]
    assert original.preview == "turn one: write one.txt"
    assert original.rollout_path.endswith(".jsonl")
    assert "_" in Path(original.rollout_path).name
    assert original.tokens_used == 330
    # A fork is its own session, with its own first message.
    fork = by_id["01a1fc96-c049-7173-b982-c45872c93136"]
    assert fork.forked_from_id == "01a1fc96-be8b-7441-95b1-9a5c3369fe94"
    assert fork.preview == "hello in the full fork"
    assert fork.tokens_used == 550


def test_drift_is_repaired_and_corrupt_lines_do_not_stop_listing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = generate_sessions(home, 5)
    with SessionIndex.open(home) as index:
        assert [r.id for r in list_sessions(index).rows] == list(reversed(ids))
        # Another program appends to the oldest session (its folder's entries unchanged).
        oldest = Path(list_sessions(index).rows[-1].rollout_path)
        with oldest.open("ab") as raw:
            raw.write(b"{corrupt\n")
            raw.write(json.dumps({"timestamp": "x", "type": "event_msg", "payload": {
                "type": "user_message", "message": "a later question"}}).encode() + b"\n")
            raw.write(json.dumps({"timestamp": "x", "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": {"total_tokens": 999}}}}
            ).encode() + b"\n")
        os.utime(oldest, (2_000_000_000, 2_000_000_000))
        index.sync(full=True)
        rows = list_sessions(index).rows
        assert rows[0].id == ids[0]
        assert rows[0].tokens_used == 999
        assert [r.id for r in search_sessions(index, "later question")] == [ids[0]]
        # A file removed behind the index's back disappears from the listing.
        Path(rows[1].rollout_path).unlink()
        assert ids[4] not in [r.id for r in list_sessions(index).rows]


def test_resolver_takes_ids_prefixes_and_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = generate_sessions(home, 3)
    (home / "session_index.jsonl").write_text(
        json.dumps({"id": ids[1], "thread_name": "old name", "updated_at": "x"}) + "\n"
        + "not json\n"
        + json.dumps({"id": ids[1], "thread_name": "parser work", "updated_at": "y"}) + "\n"
    )
    assert resolve_session(home, ids[2]).name.endswith(f"{ids[2]}.jsonl")
    assert resolve_session(home, "parser work").name.endswith(f"{ids[1]}.jsonl")
    with SessionIndex.open(home) as index:
        assert resolve_session_id(index, ids[0][:-4]) == ids[0]
        with pytest.raises(AmbiguousSession, match="matches several sessions"):
            resolve_session_id(index, "019c")
        with pytest.raises(UnknownSession, match="old name"):
            resolve_session_id(index, "old name")
        with pytest.raises(UnknownSession, match="no session"):
            resolve_session_id(index, "00000000-0000-0000-0000-000000000000")
        with pytest.raises(CursorError, match="bad cursor"):
            list_sessions(index, cursor="yesterday")
