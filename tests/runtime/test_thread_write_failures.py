"""A thread whose rollout cannot be written, with real parts: a loopback model server,
real files, a real file system that refuses (``sessions`` a file, a full tmpfs).

A turn that cannot write its lines stops the thread at once, and says so: the
subscriptions end (a frontend reading them is not left waiting for lines that will not
come), ``failure`` is the error, further submissions are refused naming it. A submission
that cannot be logged is refused and the thread goes on.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from runtime.thread_harness import git_workspace, read_all, submit_prompt, write_config
from support.model_scripts import Script
from support.model_server import ModelServer
from support.mounts import fill, tiny_tmpfs
from support.waits import within

from llmx.runtime import ThreadError, ThreadManager, ThreadOptions

KEY_ENV = "LLMX_WRITE_FAILURE_TEST_KEY"
SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "answered"}]}


@pytest.mark.asyncio
async def test_a_turn_that_cannot_create_the_rollout_stops_the_thread(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ModelServer(Script.from_json(SCRIPT)) as server:
        write_config(home, server, KEY_ENV)
        (home / "sessions").write_text("not a folder")
        manager = ThreadManager(home, model_env={KEY_ENV: "k"})
        try:
            thread = await manager.open(ThreadOptions(cwd=git_workspace(tmp_path)))
            events = thread.subscribe()
            await submit_prompt(thread, "hello")
            # The subscription ends with the thread: nobody waits for more lines.
            lines = await within(read_all(events), "the subscription to end")
            failure = thread.failure
            assert isinstance(failure, NotADirectoryError)
            assert failure.filename == str(home / "sessions")
            assert not thread.turn_running
            # Shown (the prompt the user typed), never written.
            assert any(b'"hello"' in line.raw for line in lines)
            with pytest.raises(ThreadError) as refused:
                await submit_prompt(thread, "again")
            assert refused.value.cause is failure
            # close() raises it, as it raised before: what a caller that only closes sees.
            with pytest.raises(NotADirectoryError):
                await within(thread.close(), "the thread to close")
            assert thread.closed
            assert manager.threads == []
        finally:
            await within(manager.close(), "the manager to close")
    assert (home / "sessions").read_text() == "not a folder"


@pytest.mark.asyncio
async def test_a_prompt_on_a_full_disk_is_refused_and_the_thread_goes_on(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with ModelServer(Script.from_json(SCRIPT)) as server:
        write_config(home, server, KEY_ENV)
        with tiny_tmpfs(home):
            manager = ThreadManager(home, model_env={KEY_ENV: "k"})
            try:
                thread = await manager.open(ThreadOptions(cwd=git_workspace(tmp_path)))
                events = thread.subscribe()
                await submit_prompt(thread, "first")
                async for line in events:
                    if line.payload_type == "task_complete":
                        break
                path = thread.rollout_path
                assert path is not None
                before = path.read_bytes()
                filler = fill(home)
                # Longer than a page: the slack of the file's last page cannot take it.
                second = "second " + "x" * 8192
                with pytest.raises(ThreadError) as refused:
                    await submit_prompt(thread, second)
                assert isinstance(refused.value.cause, OSError)
                assert "No space left" in refused.value.what
                assert refused.value.path == path
                assert thread.failure is None
                assert path.read_bytes() == before
                filler.unlink()
                await submit_prompt(thread, "third")
                async for line in events:
                    if line.payload_type == "task_complete":
                        break
                await within(thread.close(), "the thread to close")
                assert b'"third"' in path.read_bytes()
                assert b"second" not in path.read_bytes()
            finally:
                with contextlib.suppress(OSError):  # raised by the test's failure
                    await within(manager.close(), "the manager to close")
