"""A live interactive session in Textual's pilot: the real app on the runtime's door,
a real home with config.toml, a git workspace and the loopback model server."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from support.waits import WAIT_SECONDS
from textual.pilot import Pilot

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.door import Door
from llmx.cli.tui.history_recall import HistoryRecall
from llmx.cli.tui.session_start import Start
from llmx.events.history import HistoryFile
from llmx.events.home import history_path
from llmx.projections import transcript_cells as tc
from llmx.runtime import ThreadOptions

API_KEY_ENV = "LLMX_TEST_MODEL_KEY"


def make_home(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        f"{extra}\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{base_url}"\n'
        f'env_key = "{API_KEY_ENV}"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    return home


def make_workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


def live_app(home: Path, workspace: Path, start: Start | None = None, **options: Any) -> LlmxApp:
    """The app ``llmx`` runs, with ``options`` as its flags would give them."""
    door = Door(ThreadOptions(cwd=workspace, **options), home)
    return LlmxApp(cwd=workspace, door=door, start=start or Start.new(),
                   recall=HistoryRecall(HistoryFile(history_path(home))))


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    """Let the app run until ``condition`` holds; fail naming ``what`` after a bound."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {WAIT_SECONDS:.0f} s waiting for {what}")
        await pilot.pause(0.02)


async def type_line(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the composer and press Enter."""
    app = pilot.app
    assert isinstance(app, LlmxApp)
    await until(pilot, lambda: app.composer.has_focus, "the composer to take the keys")
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])
    await pilot.press("enter")


def idle(app: LlmxApp) -> Callable[[], bool]:
    def check() -> bool:
        return app.thread is not None and not app.busy and not app.fold.status.turn_running

    return check


def shown(app: LlmxApp) -> list[tc.Cell]:
    """The cells on screen, without their revision counters (how often a cell changed
    while it streamed is not part of what it shows)."""
    return without_revisions(app.view.cells)


def without_revisions(cells: list[tc.Cell]) -> list[tc.Cell]:
    return [msgspec.structs.replace(cell, revision=0) for cell in cells]


def rollout_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def submissions(path: Path) -> list[dict[str, Any]]:
    return [line["payload"] for line in rollout_lines(path) if line["type"] == "submission"]


def events_of(path: Path, kind: str) -> list[dict[str, Any]]:
    return [line["payload"] for line in rollout_lines(path)
            if line["type"] == "event_msg" and line["payload"]["type"] == kind]


def page_text(app: LlmxApp) -> str:
    """The text of the page the app shows (``/status``, ``/diff``, ``/mcp``)."""
    from textual.widgets import Static

    return "\n".join(str(static.render()) for static in app.screen.query(Static))


async def slash_page(pilot: Pilot[Any], app: LlmxApp, command: str) -> str:
    """Type ``command`` (``/status``, ``/diff``, ``/mcp``), wait for its page, read it and
    close it again."""
    from llmx.cli.tui.overlay_screen import TextPage

    await type_line(pilot, command)
    await until(pilot, lambda: isinstance(app.screen, TextPage), f"the {command} page")
    await pilot.pause()
    text = page_text(app)
    await pilot.press("escape")
    return text


def rollout_of(app: LlmxApp) -> Path:
    """The rollout file of the thread ``app`` shows (it has one once a prompt was sent)."""
    assert app.thread is not None
    path = app.thread.rollout_path
    assert path is not None
    return path
