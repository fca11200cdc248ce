"""``exec``'s writers: the human text (stderr, final answer on stdout) or ``--json`` lines.

Both are fed the rollout lines the event log publishes to its subscriber (after they
reached the sink) and render through the projections, the same code path ``llmx replay``
uses over the file.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from llmx.cli.terminal import use_color

if TYPE_CHECKING:
    from llmx.events.lines import RolloutLine
    from llmx.projections.exec.human import HumanExecProjection
    from llmx.projections.exec.json_events import JsonExecProjection


class ExecOutput:
    def __init__(self, *, json_mode: bool, color: str, show_reasoning: bool) -> None:
        # Each renderer imported only when chosen: start-up pays for one of them.
        self.json_mode = json_mode
        self._json: JsonExecProjection | None = None
        self._human: HumanExecProjection | None = None
        if json_mode:
            from llmx.projections.exec.json_events import JsonExecProjection

            self._json = JsonExecProjection()
        else:
            from llmx.projections.exec.human import HumanExecProjection

            self._human = HumanExecProjection(show_reasoning=show_reasoning)
        self._ansi = use_color(color, sys.stderr)
        self._final_to_stdout = not sys.stdout.isatty()

    def on_line(self, line: RolloutLine) -> None:
        if self._json is not None:
            self._write_json(self._json.feed_line(line))
        elif self._human is not None:
            self._write_human(self._human.feed_line(line))

    def finish(self) -> None:
        if self._json is not None:
            self._write_json(self._json.finish())
        elif self._human is not None:
            self._write_human(self._human.finish())

    def _write_json(self, events: list[dict[str, Any]]) -> None:
        from llmx.projections.exec.json_events import encode_event

        if events:
            sys.stdout.write("".join(encode_event(event) for event in events))
            sys.stdout.flush()

    def _write_human(self, records: list[Any]) -> None:
        from llmx.projections.exec.human import Stream, render_ansi, render_plain

        if not records:
            return
        render = render_ansi if self._ansi else render_plain
        text = render(records, Stream.STDERR)
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()
        final = render_plain(records, Stream.FINAL)
        if final and self._final_to_stdout:
            sys.stdout.write(final)
            sys.stdout.flush()
