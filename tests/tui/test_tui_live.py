"""The live interactive session in Textual's pilot, against the loopback model server:
every key that changes the session is a submission in the rollout before it acts."""

from __future__ import annotations

import gc
import json
import subprocess
import weakref
from pathlib import Path

import pytest
from e2e.exec_harness import needs_sandbox
from support.model_server import scripted
from support.waits import WAIT_SECONDS
from tui.live_harness import (
    API_KEY_ENV,
    events_of,
    idle,
    live_app,
    make_home,
    make_workspace,
    rollout_lines,
    rollout_of,
    shown,
    slash_page,
    submissions,
    type_line,
    until,
    without_revisions,
)

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.approval_screen import ApprovalScreen
from llmx.cli.tui.cell_render import render_cell
from llmx.cli.tui.overlay_screen import BacktrackScreen, TranscriptOverlay
from llmx.cli.tui.resume_picker import ResumePicker
from llmx.cli.tui.session_start import Start
from llmx.cli.tui.transcript_view import TranscriptView
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript_pages import TranscriptPages, fold_file

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")


def dialog_shown(app: LlmxApp) -> bool:
    """The approval dialog is on screen, composed (a pushed screen mounts its widgets
    in a later step)."""
    return isinstance(app.screen, ApprovalScreen) and bool(
        app.screen.query("#approval-question"))


def approval_script() -> dict[str, object]:
    return {"turns": [
        {"items": [{"type": "shell", "command": "echo made > made.txt"}]},
        {"items": [{"type": "message", "text": "Made the file."}]},
    ], "fallback": [{"type": "message", "text": "Nothing more."}]}


@needs_sandbox
@pytest.mark.parametrize(("key", "decision"), [("y", "approved"), ("n", "denied")])
async def test_a_prompt_and_an_approval_are_submissions_before_they_act(
    tmp_path: Path, key: str, decision: str
) -> None:
    with scripted(approval_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, approval_policy="untrusted", sandbox_mode="workspace-write")
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "make the file")
            await until(pilot, lambda: dialog_shown(app),
                        "the approval dialog")
            assert "echo made > made.txt" in str(app.screen.query_one("#approval-question")
                                                 .render())
            await pilot.press(key)
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and "Made the file"
                                           in c.text for c in app.view.cells), "the answer")
            await until(pilot, idle(app), "the turn's end")
            thread = app.thread
            assert thread is not None
            rollout = thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c")
            await pilot.press("ctrl+c")
        assert app.return_code == 0
    assert (work / "made.txt").exists() is (decision == "approved")
    ops = [s["op"] for s in submissions(rollout)]
    assert [op["type"] for op in ops] == ["user_turn", "exec_approval", "shutdown"]
    assert ops[0]["items"] == [{"type": "text", "text": "make the file", "text_elements": []}]
    [answer] = [s for s in submissions(rollout) if s["op"]["type"] == "exec_approval"]
    assert answer["op"]["decision"] == decision
    assert answer["decided_by"] == "user"
    [request] = events_of(rollout, "exec_approval_request")
    assert answer["op"]["id"] == request["call_id"]
    # The decision is in the log before the command ran (or was refused): before the
    # tool call's output the model is sent.
    kinds = [(line["type"], line["payload"].get("type")) for line in rollout_lines(rollout)]
    decided_at = kinds.index(("submission", None), kinds.index(("event_msg",
                                                                "exec_approval_request")))
    assert decided_at < kinds.index(("response_item", "function_call_output"))
    # What was on screen is the fold of the file.
    assert live == without_revisions(fold_file(rollout).cells)


async def test_esc_interrupts_the_running_turn_with_a_submission(tmp_path: Path) -> None:
    script = {"turns": [
        {"items": [{"type": "message", "text": "never finished"}], "stall": 30},
        {"items": [{"type": "message", "text": "Second answer."}]},
    ]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "wait forever")
            await until(pilot, lambda: app.fold.status.turn_running, "the turn to start")
            await pilot.press("escape")
            await until(pilot, idle(app), "the interrupted turn's end")
            await type_line(pilot, "again")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and c.text ==
                                           "Second answer." for c in app.view.cells),
                        "the second answer")
            await until(pilot, idle(app), "the second turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        assert app.return_code == 0
    ops = [s["op"]["type"] for s in submissions(rollout)]
    assert ops == ["user_turn", "interrupt", "user_turn", "shutdown"]
    assert len(events_of(rollout, "turn_aborted")) == 1
    assert live == without_revisions(fold_file(rollout).cells)


def command_cells(app: LlmxApp) -> list[tc.CommandCell]:
    return [cell for cell in app.view.cells if isinstance(cell, tc.CommandCell)]


def printed_started(app: LlmxApp) -> bool:
    """A command is running and its first output is on screen."""
    return any(cell.status is tc.ItemStatus.IN_PROGRESS and "started" in cell.output
               for cell in command_cells(app))


def transcript_text(app: LlmxApp) -> str:
    return "\n".join(app.view.plain_lines())


@needs_sandbox
async def test_esc_while_an_approved_command_runs_ends_its_cell_live_resumed_and_replayed(
    tmp_path: Path,
) -> None:
    """The user's trial: ``-a untrusted -s workspace-write``, the command approved with
    ``y``, Esc while it runs. Its cell is closed (failed, exit code -1) on the screen, in
    Ctrl-T, after a resume and in a replay, because the rollout holds its end."""
    script = {"turns": [
        {"items": [{"type": "shell", "command": "echo started; sleep 30; echo done"}]},
    ], "fallback": [{"type": "message", "text": "Nothing more."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        flags = {"approval_policy": "untrusted", "sandbox_mode": "workspace-write"}
        app = live_app(home, work, **flags)
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "run the slow job")
            await until(pilot, lambda: dialog_shown(app), "the approval dialog")
            await pilot.press("y")
            await until(pilot, lambda: printed_started(app), "the command's first output")
            await pilot.press("escape")
            await until(pilot, idle(app), "the interrupted turn's end")
            [cell] = command_cells(app)
            assert (cell.status, cell.exit_code) == (tc.ItemStatus.FAILED, -1)
            assert cell.output.endswith("started\n")
            live_text = transcript_text(app)
            assert "Running" not in live_text
            assert "exit code -1" in live_text
            await pilot.press("ctrl+t")
            await until(pilot, lambda: isinstance(app.screen, TranscriptOverlay),
                        "the transcript overlay")
            overlay = "\n".join(app.screen.query_one(TranscriptView).plain_lines())
            assert "Running" not in overlay
            assert "exit code -1" in overlay
            await pilot.press("escape")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        assert app.return_code == 0
        assert live == without_revisions(fold_file(rollout).cells)
        resumed = live_app(home, work, Start.resume_last(), **flags)
        async with resumed.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: resumed.thread is not None, "the resumed thread")
            await pilot.pause()
            assert [(c.status, c.exit_code) for c in command_cells(resumed)] == [
                (tc.ItemStatus.FAILED, -1)]
            assert transcript_text(resumed) == live_text
            await pilot.press("ctrl+c", "ctrl+c")
    replay = LlmxApp(cwd=work, pages=TranscriptPages(rollout))
    async with replay.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert shown(replay) == live
        assert transcript_text(replay) == live_text


async def test_esc_while_a_bang_command_runs_tells_the_model_how_long_it_ran(
    tmp_path: Path,
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "Seen it."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, approval_policy="never", sandbox_mode="danger-full-access")
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "!echo started; sleep 20")
            await until(pilot, lambda: printed_started(app), "the command's first output")
            await pilot.pause(1.0)
            await pilot.press("escape")
            await until(pilot, idle(app), "the interrupted command's end")
            [cell] = command_cells(app)
            assert (cell.status, cell.exit_code) == (tc.ItemStatus.FAILED, -1)
            assert cell.output.endswith("started\ncommand aborted by user")
            assert cell.duration_ms is not None
            assert cell.duration_ms >= 1000
            assert "Running" not in transcript_text(app)
            await type_line(pilot, "what did I run")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) for c in app.view.cells),
                        "the answer")
            await until(pilot, idle(app), "the turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        [request] = model.model_requests()
    told = [line["payload"]["content"][0]["text"] for line in rollout_lines(rollout)
            if line["type"] == "response_item"
            and "<user_shell_command>" in json.dumps(line["payload"])]
    assert len(told) == 1
    seconds = cell.duration_ms / 1000
    assert "\nExit code: -1\nDuration: " in told[0]
    duration = float(told[0].split("Duration: ", 1)[1].split(" ", 1)[0])
    assert abs(duration - seconds) < 0.01
    assert told[0].endswith("started\ncommand aborted by user\n</result>\n"
                            "</user_shell_command>")
    assert told[0] in json.dumps(request.body["input"], ensure_ascii=False).replace("\\n", "\n")
    assert live == without_revisions(fold_file(rollout).cells)


async def test_prompts_typed_while_a_turn_runs_are_queued_and_sent_in_order(
    tmp_path: Path,
) -> None:
    script = {"turns": [
        {"items": [{"type": "message", "text": "First answer."}], "delay": 1.5},
        {"items": [{"type": "message", "text": "Second answer."}]},
        {"items": [{"type": "message", "text": "Third answer."}]},
    ]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "one")
            await until(pilot, lambda: app.busy, "the first turn")
            await type_line(pilot, "two")
            await type_line(pilot, "three")
            assert app.queued == ["two", "three"]
            assert "queued: two" in str(app.query_one("#activity").render())
            await until(pilot, lambda: sum(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells) == 3, "three answers")
            await until(pilot, idle(app), "the last turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            await pilot.press("ctrl+c", "ctrl+c")
    lines = rollout_lines(rollout)
    prompts = [(i, line["payload"]["op"]["items"][0]["text"]) for i, line in enumerate(lines)
               if line["type"] == "submission" and line["payload"]["op"]["type"] == "user_turn"]
    assert [text for _, text in prompts] == ["one", "two", "three"]
    # Each queued prompt was submitted after the turn before it had ended.
    ends = [i for i, line in enumerate(lines) if line["payload"].get("type") == "task_complete"]
    assert prompts[1][0] > ends[0]
    assert prompts[2][0] > ends[1]


async def test_a_second_ctrl_c_on_an_idle_composer_quits_and_the_first_does_not(
    tmp_path: Path,
) -> None:
    with scripted({"turns": []}) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the thread")
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert app.is_running
            assert "ctrl+c again" in str(app.query_one("#hint").render())
            await pilot.press("ctrl+c")
        assert app.return_code == 0
    # A thread that never had a prompt leaves no session behind.
    assert list(home.glob("sessions/**/*.jsonl")) == []


def conversation_script() -> dict[str, object]:
    return {"turns": [
        {"items": [{"type": "reasoning", "summary": [{"type": "summary_text",
                                                      "text": "Thinking it over"}]},
                   {"type": "message", "text": "First answer, streamed in pieces."}]},
        {"items": [{"type": "message", "text": "Second answer."}]},
    ], "fallback": [{"type": "message", "text": "Later answer."}]}


async def two_turns(app: LlmxApp) -> tuple[list[tc.Cell], list[str], Path]:
    """Run two prompts in ``app``; what it showed (cells and text) and its rollout."""
    async with app.run_test(size=(80, 24)) as pilot:
        await type_line(pilot, "first question")
        await until(pilot, lambda: any(isinstance(c, tc.AgentCell) for c in app.view.cells),
                    "the first answer")
        await until(pilot, idle(app), "the first turn's end")
        await type_line(pilot, "second question")
        await until(pilot, lambda: sum(isinstance(c, tc.AgentCell)
                                       for c in app.view.cells) == 2, "the second answer")
        await until(pilot, idle(app), "the second turn's end")
        assert app.thread is not None
        rollout = app.thread.rollout_path
        assert rollout is not None
        cells, text = shown(app), app.view.plain_lines()
        await pilot.press("ctrl+c", "ctrl+c")
    return cells, text, rollout


async def test_a_thread_resumed_with_flags_shows_and_uses_them(tmp_path: Path) -> None:
    with scripted(conversation_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        await two_turns(live_app(home, work, sandbox_mode="read-only", approval_policy="never"))
        resumed = live_app(home, work, Start.resume_last(), sandbox_mode="workspace-write",
                           approval_policy="untrusted")
        async with resumed.run_test(size=(120, 24)) as pilot:
            await until(pilot, lambda: resumed.thread is not None, "the resumed thread")
            # The recorded turns ran read-only, never asking; the next one will not.
            await until(pilot, lambda: "workspace-write · approval untrusted" in str(
                resumed.query_one("#status").render()), "the resumed thread's own settings")
            await type_line(pilot, "third question")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and c.text ==
                                           "Later answer." for c in resumed.view.cells),
                        "the third answer")
            await until(pilot, idle(resumed), "the third turn's end")
            rollout = rollout_of(resumed)
            await pilot.press("ctrl+c", "ctrl+c")
    last = [line["payload"] for line in rollout_lines(rollout)
            if line["type"] == "turn_context"][-1]
    assert (last["approval_policy"], last["sandbox_policy"]["type"]) == (
        "untrusted", "workspace-write")


async def test_a_failed_turn_shows_its_error_once(tmp_path: Path) -> None:
    script = {"turns": [{"status": 400, "error": "the model refused the request"}],
              "fallback": [{"type": "message", "text": "ok"}]}
    with scripted(script) as model:
        app = live_app(make_home(tmp_path, model.base_url), make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "hello")
            await until(pilot, lambda: app.thread is not None and not app.busy
                        and any(isinstance(c, tc.NoticeCell) for c in app.view.cells),
                        "the failed turn's end")
            text = "\n".join(app.view.plain_lines())
            await pilot.press("ctrl+c", "ctrl+c")
    assert text.count("the model refused the request") == 1, text


async def test_reconnects_show_while_the_turn_runs_and_leave_no_trace(tmp_path: Path) -> None:
    overloaded = {"status": 500, "error": "the server is overloaded"}
    script = {"turns": [overloaded, overloaded, {"items": [
        {"type": "message", "text": "Recovered."}]}],
        "fallback": [{"type": "message", "text": "ok"}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        config = home / "config.toml"  # the harness's provider retries nothing
        config.write_text(config.read_text().replace("request_max_retries = 0",
                                                     "request_max_retries = 2"))
        app = live_app(home, make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "hello")
            retries: list[str] = []

            def answered() -> bool:
                retries.extend(c.message for c in app.view.cells
                               if isinstance(c, tc.NoticeCell) and c.message not in retries)
                return any(isinstance(c, tc.AgentCell) for c in app.view.cells)

            await until(pilot, answered, "the answer after the retries")
            await until(pilot, idle(app), "the turn's end")
            rollout, live = rollout_of(app), shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
    # One line while retrying, replaced by each retry (seen here at least once)...
    assert retries, "no reconnect was shown"
    assert all(message.startswith("Reconnecting... ") for message in retries), retries
    # ... and gone once the turn has ended: live, and folded from the file alike.
    assert not any(isinstance(c, tc.NoticeCell) for c in live)
    assert live == without_revisions(fold_file(rollout).cells)


async def test_live_resumed_and_replayed_screens_are_equal(tmp_path: Path) -> None:
    with scripted(conversation_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        live_cells, live_text, rollout = await two_turns(live_app(home, work))
        resumed = live_app(home, work, Start.resume_last())
        async with resumed.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: resumed.thread is not None, "the resumed thread")
            await pilot.pause()
            assert resumed.thread is not None
            assert resumed.thread.rollout_path == rollout
            resumed_cells, resumed_text = shown(resumed), resumed.view.plain_lines()
            # The resumed thread goes on in the same file.
            await type_line(pilot, "third question")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and c.text ==
                                           "Later answer." for c in resumed.view.cells),
                        "the third answer")
            await until(pilot, idle(resumed), "the third turn's end")
            after_resume = shown(resumed)
            await pilot.press("ctrl+c", "ctrl+c")
    replay = LlmxApp(cwd=work, pages=TranscriptPages(rollout))
    async with replay.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        replayed_cells = shown(replay)
        replayed_text = replay.view.plain_lines()
    assert any(isinstance(c, tc.ReasoningCell) for c in live_cells)
    assert resumed_cells == live_cells[: len(resumed_cells)]
    assert resumed_text == live_text
    # The replay is of the file after the third turn: the live screen of the resumed
    # session, whose first part is the first session's screen.
    assert replayed_cells == after_resume
    assert replayed_cells[: len(live_cells)] == live_cells
    assert replayed_text[: len(live_text)] == live_text


async def test_fork_continues_in_a_new_thread_that_names_its_parent(tmp_path: Path) -> None:
    with scripted(conversation_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "first question")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells), "the first answer")
            await until(pilot, idle(app), "the first turn's end")
            parent = app.thread
            assert parent is not None
            parent_path = parent.rollout_path
            before = shown(app)
            await type_line(pilot, "/fork")
            await until(pilot, lambda: app.thread is not None and app.thread is not parent,
                        "the fork")
            forked = app.thread
            assert forked is not None
            assert parent.closed
            assert shown(app)[: len(before)] == before
            assert any(isinstance(c, tc.InfoCell) and parent.thread_id in c.text
                       for c in app.view.cells)
            await type_line(pilot, "in the fork")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and c.text ==
                                           "Second answer." for c in app.view.cells),
                        "the fork's answer")
            await until(pilot, idle(app), "the fork's turn end")
            fork_path = forked.rollout_path
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
    assert fork_path is not None
    assert parent_path is not None
    assert fork_path != parent_path
    meta = rollout_lines(fork_path)[0]["payload"]
    assert meta["forked_from_id"] == parent.thread_id
    assert "in the fork" not in parent_path.read_text()
    assert [s["op"]["items"][0]["text"] for s in submissions(fork_path)
            if s["op"]["type"] == "user_turn"] == ["in the fork"]
    assert live == without_revisions(fold_file(fork_path).cells)


async def test_fork_picks_the_turn_to_fork_through(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "An answer."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            for number, prompt in enumerate(("one", "two", "three"), start=1):
                await type_line(pilot, prompt)
                await until(pilot, lambda n=number: sum(isinstance(c, tc.AgentCell)
                                                        for c in app.view.cells) == n,
                            f"answer {number}")
                await until(pilot, idle(app), f"turn {number}'s end")
            parent = app.thread
            assert parent is not None
            parent_path = parent.rollout_path
            await type_line(pilot, "/fork")
            await until(pilot, lambda: isinstance(app.screen, BacktrackScreen)
                        and bool(app.screen.query("#backtrack-keys")),
                        "the list of prompts to fork through")
            keys = str(app.screen.query_one("#backtrack-keys").render())
            assert keys.startswith("Fork through which prompt's turn")
            # The second prompt: the fork keeps turns one and two.
            await pilot.press("up", "enter")
            await until(pilot, lambda: app.thread is not None and app.thread is not parent,
                        "the fork")
            forked = app.thread
            assert forked is not None
            assert [c.text for c in app.view.cells if isinstance(c, tc.UserCell)] == [
                "one", "two"]
            await type_line(pilot, "in the fork")
            await until(pilot, lambda: [c.text for c in app.view.cells
                                        if isinstance(c, tc.UserCell)][-1:] == ["in the fork"]
                        and idle(app)(), "the fork's turn end")
            fork_path = forked.rollout_path
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        last = json.dumps(model.model_requests()[-1].body["input"])
    assert fork_path is not None
    assert parent_path is not None
    meta = rollout_lines(fork_path)[0]["payload"]
    assert meta["forked_from_id"] == parent.thread_id
    # Cut after turn two's end, in the parent's file.
    parent_lines = rollout_lines(parent_path)
    ends = [line["ordinal"] for line in parent_lines if line["type"] == "event_msg"
            and line["payload"]["type"] == "task_complete"]
    assert meta["history_base"]["end_ordinal_exclusive"] == ends[1] + 1
    assert '"one"' in last
    assert '"two"' in last
    assert '"three"' not in last
    assert live == without_revisions(fold_file(fork_path).cells)


async def test_model_and_permissions_are_the_settings_of_the_next_user_turns(
    tmp_path: Path,
) -> None:
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "ok"}]}) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, sandbox_mode="workspace-write", approval_policy="on-request")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the session's opening")
            await type_line(pilot, "/model other-model")
            await type_line(pilot, "/permissions read-only")
            # Shown from the choice on, before the turn that uses them.
            await until(pilot, lambda: all(
                word in str(app.query_one("#status").render())
                for word in ("other-model", "read-only", "approval on-request")),
                "the status line naming the chosen model and permissions")
            page = await slash_page(pilot, app, "/status")
            rows = dict(line.split(":", 1) for line in page.splitlines() if ":" in line)
            assert {key: rows[key].strip() for key in ("model", "sandbox", "approval policy")} \
                == {"model": "other-model", "sandbox": "read-only",
                    "approval policy": "on-request"}, page
            # The thread has no file before its first prompt: none is named.
            assert "rollout" not in rows, page
            await type_line(pilot, "hello")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) for c in app.view.cells),
                        "the answer")
            await until(pilot, idle(app), "the turn's end")
            status = str(app.query_one("#status").render())
            assert "other-model" in status
            assert "read-only" in status
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            await pilot.press("ctrl+c", "ctrl+c")
        [request] = model.model_requests()
    assert request.body["model"] == "other-model"
    [turn] = [s["op"] for s in submissions(rollout)
              if s["op"]["type"] == "user_turn"]
    assert (turn["model"], turn["approval_policy"], turn["sandbox_policy"]["type"]) == (
        "other-model", "on-request", "read-only")
    [context] = [line["payload"] for line in rollout_lines(rollout)
                 if line["type"] == "turn_context"]
    assert (context["model"], context["sandbox_policy"]["type"]) == ("other-model", "read-only")


def _workspace_with_changes(tmp_path: Path) -> Path:
    """A git workspace with a tracked file changed since it was added, and a new file."""
    work = make_workspace(tmp_path)
    (work / "tracked.txt").write_text("one\n")
    subprocess.run(["git", "-C", str(work), "add", "tracked.txt"], check=True,
                   timeout=WAIT_SECONDS)
    (work / "tracked.txt").write_text("one\ntwo\n")
    (work / "new.txt").write_text("fresh\n")
    return work


async def test_diff_shows_changed_and_untracked_files(tmp_path: Path) -> None:
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "ok"}]}) as model:
        work = _workspace_with_changes(tmp_path)
        app = live_app(make_home(tmp_path, model.base_url), work)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the session's opening")
            page = await slash_page(pilot, app, "/diff")
            await pilot.press("ctrl+c", "ctrl+c")
    assert "+two" in page, page
    assert "new.txt" in page, page
    assert "+fresh" in page, page


@needs_sandbox
async def test_a_bang_command_runs_through_the_sandbox_and_the_approval_path(
    tmp_path: Path,
) -> None:
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "Seen it."}]}) as model:
        # /tmp not writable: the test's folders are all under it.
        home = make_home(tmp_path, model.base_url, "[sandbox_workspace_write]\n"
                         "exclude_slash_tmp = true\nexclude_tmpdir_env_var = true\n")
        work = make_workspace(tmp_path)
        app = live_app(home, work, approval_policy="untrusted", sandbox_mode="workspace-write")
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, f"!echo typed > typed.txt; touch {home}/outside.txt")
            await until(pilot, lambda: dialog_shown(app),
                        "the approval dialog")
            await pilot.press("y")
            await until(pilot, lambda: any(isinstance(c, tc.CommandCell) and c.exit_code
                                           is not None for c in app.view.cells),
                        "the command's end")
            # The sandbox refused the write outside: asked again, without the sandbox.
            await until(pilot, lambda: dialog_shown(app),
                        "the question whether to retry without the sandbox")
            assert "retry without sandbox" in str(
                app.screen.query_one("#approval-question").render())
            await pilot.press("n")
            await until(pilot, idle(app), "the shell task's end")
            await type_line(pilot, "what did I run")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) for c in app.view.cells),
                        "the answer")
            await until(pilot, idle(app), "the turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        [request] = model.model_requests()
    # Inside the workspace it wrote; outside it the sandbox refused.
    assert (work / "typed.txt").read_text() == "typed\n"
    assert not (home / "outside.txt").exists()
    ops = [s["op"]["type"] for s in submissions(rollout)]
    assert ops == ["run_user_shell_command", "exec_approval", "exec_approval", "user_turn",
                   "shutdown"]
    decisions = [s for s in submissions(rollout) if s["op"]["type"] == "exec_approval"]
    assert [(d["op"]["decision"], d["decided_by"]) for d in decisions] == [
        ("approved", "user"), ("denied", "user")]
    [item] = [e["item"] for e in events_of(rollout, "item_completed")
              if e["item"]["type"] == "CommandExecution"]
    assert item["source"] == "user_shell"
    assert item["exit_code"] != 0
    # The transcript says the user ran it, not the model.
    [typed] = [c for c in live if isinstance(c, tc.CommandCell)]
    assert typed.source == "user"
    rendered = render_cell(typed, show_reasoning=True)
    assert rendered is not None
    assert rendered.plain.startswith("• You ran ")
    told = [line["payload"] for line in rollout_lines(rollout)
            if line["type"] == "response_item" and "<user_shell_command>" in json.dumps(
                line["payload"])]
    assert len(told) == 1
    text = told[0]["content"][0]["text"]
    assert text.startswith("<user_shell_command>\n<command>\necho typed > typed.txt; touch "
                           f"{home}/outside.txt\n</command>\n<result>\nExit code: 1\n"
                           "Duration: ")
    # The next turn's request carries it.
    assert text in json.dumps(request.body["input"], ensure_ascii=False).replace("\\n", "\n")
    assert live == without_revisions(fold_file(rollout).cells)


async def test_rename_is_a_submission_and_the_picker_resumes_by_the_new_name(
    tmp_path: Path,
) -> None:
    with scripted(conversation_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "first question")
            await until(pilot, idle(app), "the first turn's end")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells), "the answer")
            await type_line(pilot, "/rename release notes")
            await until(pilot, lambda: app.fold.status.thread_name == "release notes",
                        "the new name")
            assert app.thread is not None
            rollout, thread_id = app.thread.rollout_path, app.thread.thread_id
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        assert rollout is not None
        [renamed] = [s for s in submissions(rollout) if s["op"]["type"] == "set_thread_name"]
        assert renamed["op"]["name"] == "release notes"
        assert [e["thread_name"] for e in events_of(rollout, "thread_name_updated")] == [
            "release notes"]
        picker = live_app(home, work, Start.pick())
        async with picker.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(picker.screen, ResumePicker)
                        and picker.screen.rows, "the picker's rows")
            screen = picker.screen
            assert isinstance(screen, ResumePicker)
            assert [row.id for row in screen.rows] == [thread_id]
            assert screen.rows[0].name == "release notes"
            await pilot.press("enter")
            await until(pilot, lambda: picker.thread is not None, "the resumed thread")
            assert picker.thread is not None
            assert picker.thread.thread_id == thread_id
            assert shown(picker) == live
            await pilot.press("ctrl+c", "ctrl+c")


async def test_esc_esc_goes_back_with_a_rollback_recorded_as_codex_records_it(
    tmp_path: Path,
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "An answer."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            for number, prompt in enumerate(("one", "two", "three"), start=1):
                await type_line(pilot, prompt)
                await until(pilot, lambda n=number: sum(isinstance(c, tc.AgentCell)
                                                        for c in app.view.cells) == n,
                            f"answer {number}")
                await until(pilot, idle(app), f"turn {number}'s end")
            await pilot.press("escape", "escape")
            await until(pilot, lambda: isinstance(app.screen, BacktrackScreen),
                        "the list of earlier prompts")
            await pilot.press("up", "enter")
            await until(pilot, lambda: app.composer.text == "two", "the prompt to edit")
            await until(pilot, lambda: [c.text for c in app.view.cells
                                        if isinstance(c, tc.UserCell)] == ["one"],
                        "the transcript without the rolled back turns")
            app.composer.set_text("")
            await type_line(pilot, "two, edited")
            await until(pilot, lambda: sum(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells) == 2, "the new answer")
            await until(pilot, idle(app), "the turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            live = shown(app)
            await pilot.press("ctrl+c", "ctrl+c")
        last = json.dumps(model.model_requests()[-1].body["input"])
    [rollback] = [s for s in submissions(rollout) if s["op"]["type"] == "thread_rollback"]
    assert rollback["op"]["num_turns"] == 2
    assert [e["num_turns"] for e in events_of(rollout, "thread_rolled_back")] == [2]
    # The model no longer gets the turns rolled back.
    assert '"one"' in last
    assert "two, edited" in last
    assert '"three"' not in last
    assert '"two"' not in last
    assert live == without_revisions(fold_file(rollout).cells)


async def test_a_terminal_resized_mid_stream_redraws_at_the_new_width(tmp_path: Path) -> None:
    # About eight seconds of streaming: the resize comes while it runs.
    words = " ".join(f"word{index}" for index in range(1500))
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": words}],
                                        "chunk_delay": 0.005}}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "stream it")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and "word50 " in c.text
                                           for c in app.view.cells), "the answer streaming")
            assert app.busy
            await pilot.resize_terminal(50, 20)
            await until(pilot, idle(app), "the turn's end")
            await pilot.pause()
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            rows = app.view.plain_lines()
            await pilot.press("ctrl+c", "ctrl+c")
    assert max(len(row) for row in rows) <= 50
    assert "word1499" in "\n".join(rows)
    # What a replay draws at that width.
    replay = LlmxApp(cwd=work, pages=TranscriptPages(rollout))
    async with replay.run_test(size=(50, 20)) as pilot:
        await pilot.pause()
        assert replay.view.plain_lines() == rows


async def test_compact_new_and_init_are_submissions_or_thread_switches(tmp_path: Path) -> None:
    script = {"turns": [
        {"items": [{"type": "message", "text": "First answer."}]},
        {"items": [{"type": "message", "text": "The summary of it all."}]},
    ], "fallback": [{"type": "message", "text": "Wrote it."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "first question")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells), "the answer")
            await until(pilot, idle(app), "the turn's end")
            await type_line(pilot, "/compact")
            await until(pilot, lambda: app.thread is not None and app.thread.rollout_path
                        is not None and '"compacted"' in app.thread.rollout_path.read_text(),
                        "the compaction")
            await until(pilot, idle(app), "the compaction's end")
            first = app.thread
            assert first is not None
            first_path = first.rollout_path
            await type_line(pilot, "/new")
            await until(pilot, lambda: app.thread is not None and app.thread is not first,
                        "the new thread")
            assert first.closed
            assert [c for c in app.view.cells if isinstance(c, tc.UserCell)] == []
            await type_line(pilot, "/init")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell)
                                           for c in app.view.cells), "the answer to /init")
            await until(pilot, idle(app), "the /init turn's end")
            assert app.thread is not None
            second_path = app.thread.rollout_path
            await pilot.press("ctrl+c", "ctrl+c")
    assert first_path is not None
    assert second_path is not None
    assert second_path != first_path
    assert [s["op"]["type"] for s in submissions(first_path)] == [
        "user_turn", "compact", "shutdown"]
    assert len([line for line in rollout_lines(first_path) if line["type"] == "compacted"]) == 1
    [init] = [s["op"] for s in submissions(second_path) if s["op"]["type"] == "user_turn"]
    assert "AGENTS.md" in init["items"][0]["text"]


async def test_a_resumed_turn_cut_off_before_its_end_is_over_and_ctrl_c_starts_to_quit(
    tmp_path: Path,
) -> None:
    """A session whose last turn was cut off (the process killed before the turn's end was
    written), resumed: the turn is over, not shown working; Ctrl-C is the first of the two
    quitting presses, not an interrupt (which the thread would keep for the next prompt
    and abort it with); a prompt goes at once and is answered."""
    with scripted(conversation_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await type_line(pilot, "first question")
            await until(pilot, idle(app), "the first turn's end")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            await pilot.press("ctrl+c", "ctrl+c")
        assert app.return_code == 0
        # Cut where the turn's end begins, as a kill -9 before it was written leaves it.
        lines = rollout.read_text().splitlines(keepends=True)
        [end] = [i for i, line in enumerate(lines) if '"type":"task_complete"' in line]
        rollout.write_text("".join(lines[:end]))
        resumed = live_app(home, work, Start.resume_last())
        async with resumed.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: resumed.thread is not None, "the resumed thread")
            await pilot.pause()
            assert not resumed.busy
            assert "Working" not in str(resumed.query_one("#activity").render())
            await pilot.press("ctrl+c")
            await pilot.pause()
            assert resumed.is_running
            assert "ctrl+c again" in str(resumed.query_one("#hint").render())
            await type_line(pilot, "second question")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and c.text ==
                                           "Second answer." for c in resumed.view.cells),
                        "the second answer")
            await until(pilot, idle(resumed), "the second turn's end")
            await pilot.press("ctrl+c", "ctrl+c")
        assert resumed.return_code == 0
    ops = [s["op"]["type"] for s in submissions(rollout)]
    assert ops == ["user_turn", "user_turn", "shutdown"]


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_cyclic_garbage_is_collected_when_a_turn_ends(tmp_path: Path) -> None:
    """While the session is open the collector makes no full pass by itself (one held the
    keys and the screen while the model streamed); it makes one when a turn ends. When
    the app ends, the collector is as it was."""
    before = gc.get_threshold()
    script = {"turns": [], "fallback": [{"type": "message", "text": "Done."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.heap.settled, "the open session")
            cycle = _Cycle()
            gone = weakref.ref(cycle)
            # Young collections move it to the oldest generation, which only a full
            # pass looks at.
            gc.collect(1)
            del cycle
            # Enough objects kept to make the collector's own full pass due (hundreds
            # of young collections, the oldest generation grown by far more than a
            # quarter): none comes.
            kept = [[index] for index in range(300_000)]
            assert gone() is not None
            del kept
            await type_line(pilot, "hi")
            await until(pilot, lambda: any(isinstance(c, tc.AgentCell) and "Done." in c.text
                                           for c in app.view.cells), "the answer")
            await until(pilot, idle(app), "the turn's end")
            assert gone() is None
            await pilot.press("ctrl+c", "ctrl+c")
    assert gc.get_threshold() == before
