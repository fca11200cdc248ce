"""The session index reads the ends of a large rollout, never all of it, to answer a listing.

Bytes read are measured with ``/proc/self/io`` (``rchar``: every byte ``read`` returned to
this process), so what is asserted is what the kernel handed over, not what the code says
it read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx.events.home import rollout_path_for
from llmx.projections.sessions import scan as session_scan
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import get_session, list_sessions, search_sessions
from llmx.projections.sessions.summary import FileSummary, fold_line, parse_rollout_name

MB = 1_000_000
LARGE_BYTES = 40 * MB
MIDDLE_WORDS = "zebra quartz xylophone"
LATE_CWD = "/home/dev/late-project"


def _rchar() -> int:
    with open("/proc/self/io", encoding="ascii") as stats:
        for line in stats:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


needs_proc_io = pytest.mark.skipif(
    not os.path.exists("/proc/self/io"), reason="bytes read are measured with /proc/self/io"
)


def _gen_rollout() -> ModuleType:
    """``bench/gen_rollout.py`` (the benchmarks' generator; bench/ is not a package)."""
    name = "llmx_bench_gen_rollout"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "bench" / "gen_rollout.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _line(payload_type: str, payload: dict[str, object]) -> bytes:
    record = {"timestamp": "2026-11-21T07:00:00.000Z", "type": payload_type, "payload": payload}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _user(text: str) -> bytes:
    return _line("event_msg", {"type": "user_message", "message": text, "images": []})


def _tokens(total: int) -> bytes:
    return _line("event_msg", {"type": "token_count", "info": {
        "total_token_usage": {"total_tokens": total}}})


def _turn_context(cwd: str, model: str) -> bytes:
    return _line("turn_context", {
        "cwd": cwd, "approval_policy": "on-request",
        "sandbox_policy": {"type": "workspace-write"}, "model": model, "effort": "high"})


def _filler(size: int) -> bytes:
    """Assistant messages (no turn context, no token count) of about ``size`` bytes."""
    one = _line("response_item", {"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "working on it " * 500}]})
    return one * (size // len(one) + 1)


def write_large_session(home: Path, started: datetime) -> tuple[str, Path]:
    """A ~40 MB rollout of repeated real turns, with a user message found nowhere but
    in its middle, and a last turn (in another cwd, with another model and token total)
    followed by 300 KB of output."""
    scratch = home.parent / f"scratch-{uuid.uuid4()}.jsonl"
    generated = _gen_rollout().generate_rollout(scratch, LARGE_BYTES)
    thread_id: str = generated.thread_id
    path = rollout_path_for(home, thread_id, started)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with scratch.open("rb") as source, path.open("wb") as out:
        head = source.read(generated.size // 2)
        head += source.readline()  # up to a line boundary
        out.write(head)
        out.write(_user(f"please look at the {MIDDLE_WORDS} case"))
        while block := source.read(1 << 20):
            out.write(block)
        out.write(_turn_context(LATE_CWD, "late-model"))
        out.write(_user("the last question"))
        out.write(_tokens(987_654))
        out.write(_filler(300_000))
    scratch.unlink()
    return thread_id, path


@pytest.fixture(scope="module")
def large_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    home = tmp_path_factory.mktemp("template") / "home"
    thread_id, path = write_large_session(home, datetime(2026, 11, 21, 5, 25, 5))
    return home, thread_id, path


@pytest.fixture
def large_home(
    tmp_path: Path, large_template: tuple[Path, str, Path]
) -> tuple[Path, str, Path]:
    """A fresh home (no index) holding a copy of the large rollout."""
    template_home, thread_id, template = large_template
    home = tmp_path / "home"
    path = home / template.relative_to(template_home)
    path.parent.mkdir(parents=True, mode=0o700)
    shutil.copyfile(template, path)
    return home, thread_id, path


def _full_fold(path: Path) -> FileSummary:
    """Every line folded oldest first: what the head-and-tail summary must agree with."""
    parsed = parse_rollout_name(path.name)
    assert parsed is not None
    summary = FileSummary(str(path), parsed[1], parsed[2])
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if line.strip():
                fold_line(summary, line, first=number == 0)
    return summary


SUMMARY_FIELDS = (
    "has_meta", "cwd", "latest_cwd", "source", "originator", "model_provider", "cli_version",
    "forked_from_id", "history_mode", "first_user_message", "has_user_event", "model",
    "reasoning_effort", "sandbox_policy", "approval_mode", "tokens_used",
)


@needs_proc_io
def test_listing_a_large_rollout_reads_its_ends_only(
    large_home: tuple[Path, str, Path],
) -> None:
    home, thread_id, path = large_home
    size = path.stat().st_size
    assert size > LARGE_BYTES
    with SessionIndex.open(home) as index:
        before = _rchar()
        page = list_sessions(index, cwd=Path(LATE_CWD))
        read = _rchar() - before
        assert read < 2 * MB, f"the listing read {read} bytes of a {size}-byte rollout"
        assert [row.id for row in page.rows] == [thread_id]
        row = page.rows[0]
        assert row.preview == "write hello to out.txt"
        assert row.model == "late-model"
        assert row.tokens_used == 987_654
        stored = index._load_file(str(path))
        assert stored is not None
        summary = stored[0]
        assert summary.built_to == size
        # The middle's user messages are not in the full-text table yet.
        assert 0 < summary.fts_to < size // 2
        assert index.search_backlog() == [str(path)]
    reference = _full_fold(path)
    for field in SUMMARY_FIELDS:
        assert getattr(summary, field) == getattr(reference, field), field


def test_search_finds_a_message_only_in_the_middle(large_home: tuple[Path, str, Path]) -> None:
    home, thread_id, path = large_home
    with SessionIndex.open(home) as index:
        assert [row.id for row in list_sessions(index).rows] == [thread_id]
        progress: list[tuple[int, int]] = []
        hits = search_sessions(index, MIDDLE_WORDS, progress=lambda d, t: progress.append((d, t)))
        assert [row.id for row in hits] == [thread_id]
        assert progress == [(1, 1)]
        assert index.search_backlog() == []
        # Each user message is in the table once: the head's were not added again.
        count = index.conn.execute(
            "SELECT count(*) FROM session_messages WHERE rollout_path=?", (str(path),)
        ).fetchone()[0]
        expected = sum(
            1 for line in path.read_bytes().splitlines()
            if b'"type":"user_message"' in line or b'"type":"UserMessage"' in line
        )
        assert count == expected > 100
        assert [r.id for r in search_sessions(index, "the last question")] == [thread_id]


@needs_proc_io
def test_appends_after_the_first_summary_are_read_incrementally(
    large_home: tuple[Path, str, Path],
) -> None:
    home, thread_id, path = large_home
    with SessionIndex.open(home) as index:
        list_sessions(index)
        appended = _turn_context("/home/dev/third", "third-model") + _user("a follow-up")
        appended += _tokens(1_000_001)
        with path.open("ab") as out:
            out.write(appended)
        before = _rchar()
        index.record_flush(path)
        read = _rchar() - before
        # The appended lines, and a byte to check the old end is still a line boundary;
        # the forward reader reads in blocks, so allow one block of slack.
        assert read < len(appended) + (1 << 20), read
        row = get_session(index, thread_id)
        assert row is not None
        assert (row.cwd, row.model, row.tokens_used) == ("/home/dev/third", "third-model",
                                                         1_000_001)
        # A large append (another program's, seen at the next look) is read from its end.
        with path.open("ab") as out:
            out.write(_filler(5 * MB))
            out.write(_turn_context("/home/dev/fourth", "fourth-model"))
            out.write(_tokens(2_000_002))
        before = _rchar()
        row = get_session(index, thread_id)
        read = _rchar() - before
        assert row is not None
        assert (row.cwd, row.model, row.tokens_used) == ("/home/dev/fourth", "fourth-model",
                                                         2_000_002)
        assert read < 2 * MB, read
        # Search still sees everything, including the first append's message.
        assert [r.id for r in search_sessions(index, "follow-up")] == [thread_id]
        assert [r.id for r in search_sessions(index, MIDDLE_WORDS)] == [thread_id]


def test_a_replaced_file_is_summarised_again(large_home: tuple[Path, str, Path]) -> None:
    home, thread_id, path = large_home
    with SessionIndex.open(home) as index:
        assert search_sessions(index, MIDDLE_WORDS) != []
        # Replaced by a longer file with other contents (a new inode, same name).
        meta = _line("session_meta", {"id": thread_id, "timestamp": "2026-11-21T05:25:05Z",
                                      "cwd": "/home/dev/other", "source": "exec"})
        replacement = path.with_suffix(".new")
        replacement.write_bytes(meta + _user("a different start") + _filler(path.stat().st_size))
        os.replace(replacement, path)
        row = get_session(index, thread_id)
        assert row is not None
        assert row.preview == "a different start"
        assert row.cwd == "/home/dev/other"
        assert search_sessions(index, MIDDLE_WORDS) == []
        # Cut back behind the index's back: shorter than what was folded.
        path.write_bytes(meta + _user("shorter now"))
        row = get_session(index, thread_id)
        assert row is not None
        assert row.preview == "shorter now"
        assert [r.id for r in search_sessions(index, "shorter")] == [thread_id]
        assert search_sessions(index, "different") == []


def test_a_rewritten_file_of_the_same_inode_is_caught_by_its_line_boundary(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    thread_id = str(uuid.uuid4())
    path = rollout_path_for(home, thread_id, datetime(2026, 3, 1, 9))
    path.parent.mkdir(parents=True, mode=0o700)
    meta = _line("session_meta", {"id": thread_id, "timestamp": "2026-03-01T09:00:00Z",
                                  "cwd": "/w", "source": "exec"})
    path.write_bytes(meta + _user("first version"))
    with SessionIndex.open(home) as index:
        assert list_sessions(index).rows[0].preview == "first version"
        # Rewritten in place (same inode) and longer, but the old end is mid-line now.
        with path.open("r+b") as handle:
            handle.write(meta + _user("a rewritten opening question") + _user("then more"))
        row = get_session(index, thread_id)
        assert row is not None
        assert row.preview == "a rewritten opening question"
        assert search_sessions(index, "first version") == []


def _write_small(home: Path, index: int, cwd: str, epoch: float) -> str:
    thread_id = str(uuid.UUID(int=(0x019C << 112) | (index << 64) | 1))
    started = datetime(2026, 3, 1, 9) + timedelta(minutes=index)
    path = rollout_path_for(home, thread_id, started)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    meta = _line("session_meta", {"id": thread_id, "timestamp": "2026-03-01T09:00:00Z",
                                  "cwd": cwd, "source": "exec"})
    path.write_bytes(meta + _turn_context(cwd, "m") + _user(f"task {index}"))
    os.utime(path, (epoch + index, epoch + index))
    return thread_id


def _summarised(index: SessionIndex) -> int:
    row = index.conn.execute("SELECT count(*) FROM rollout_files WHERE size >= 0").fetchone()
    return int(row[0])


def test_cwd_filter_among_pending_files_stops_when_the_page_is_full(tmp_path: Path) -> None:
    home = tmp_path / "home"
    epoch = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    count = 2_000
    wanted = {1_990, 1_500, 40}
    ids = [
        _write_small(home, i, "/home/dev/wanted" if i in wanted else f"/home/dev/p{i % 7}", epoch)
        for i in range(count)
    ]
    with SessionIndex.open(home) as index:
        page = list_sessions(index, cwd=Path("/home/dev/wanted"), limit=1)
        assert [row.id for row in page.rows] == [ids[1_990]]
        assert page.next_cursor is not None
        # Ten candidates were newer than the match; rounds double, so at most ~2x that.
        assert 10 <= _summarised(index) <= 32
        page = list_sessions(index, cwd=Path("/home/dev/wanted"), limit=1,
                             cursor=page.next_cursor)
        assert [row.id for row in page.rows] == [ids[1_500]]
        assert _summarised(index) <= 2 * (count - 1_500)
        page = list_sessions(index, cwd=Path("/home/dev/wanted"), limit=5,
                             cursor=page.next_cursor)
        assert [row.id for row in page.rows] == [ids[40]]
        assert page.next_cursor is None
        assert _summarised(index) == count
        # The unfiltered listing agrees with a full index.
        newest = [row.id for row in list_sessions(index, limit=3).rows]
        assert newest == [ids[1_999], ids[1_998], ids[1_997]]


def test_head_scan_is_bounded_when_no_user_message_comes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    thread_id = str(uuid.uuid4())
    path = rollout_path_for(home, thread_id, datetime(2026, 3, 1, 9))
    path.parent.mkdir(parents=True, mode=0o700)
    meta = _line("session_meta", {"id": thread_id, "timestamp": "2026-03-01T09:00:00Z",
                                  "cwd": "/w", "source": "exec"})
    # Thousands of lines and 8 MB before the only user message.
    path.write_bytes(meta + _filler(8 * MB) + _user("late first question") + _tokens(5))
    summary = FileSummary(str(path), thread_id, "")
    lines_before_stop = session_scan.HEAD_LINE_LIMIT
    session_scan.summarise(summary, path)
    assert summary.has_meta
    assert summary.tokens_used == 5
    # The head stopped at its line limit; the tail found the message on its way back.
    assert summary.fts_to < lines_before_stop * 10_000
    assert summary.first_user_message == "late first question"
    assert summary.built_to == path.stat().st_size


def test_search_command_reads_the_middle_and_keeps_stdout_clean(
    large_home: tuple[Path, str, Path],
) -> None:
    home, thread_id, _path = large_home
    env = {**os.environ, "LLMX_HOME": str(home)}
    llmx = [sys.executable, "-m", "llmx", "sessions"]
    listed = subprocess.run([*llmx, "list"], env=env, capture_output=True, text=True,
                            check=True, timeout=WAIT_SECONDS)
    assert listed.stdout.split()[0] == thread_id
    found = subprocess.run([*llmx, "search", MIDDLE_WORDS, "--json"], env=env,
                           capture_output=True, text=True, check=True, timeout=WAIT_SECONDS)
    assert [row["id"] for row in json.loads(found.stdout)["data"]] == [thread_id]
    assert found.stderr == ""
