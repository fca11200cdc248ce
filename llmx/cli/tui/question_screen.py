"""The model's questions (``request_user_input``, Plan mode), one at a time: its options
numbered, then "None of the above", which takes a typed answer instead. Enter (or the
option's number) answers and moves on; Esc stops the turn. The screen only returns the
answers; the app submits them, so they are in the log before the model sees them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from llmx.events.event_msgs import RequestUserInput, RequestUserInputQuestion

OTHER = "None of the above"
# A typed answer goes to the model marked as the user's own words.
NOTE_PREFIX = "user_note: "


def _heading(number: int, total: int, question: RequestUserInputQuestion) -> Text:
    text = Text()
    text.append(f"Question {number}/{total}", style="bold")
    if question.header:
        text.append(f"  {question.header}", style="dim")
    text.append(f"\n{question.question}\n")
    return text


class QuestionScreen(ModalScreen[dict[str, list[str]] | None]):
    """Dismissed with the answers by question id, or None to stop the turn."""

    DEFAULT_CSS = """
    QuestionScreen {
        align: center bottom;
    }
    QuestionScreen > Vertical {
        width: 100%;
        height: auto;
        max-height: 100%;
        border-top: solid $accent;
        background: $surface;
        padding: 0 1;
    }
    QuestionScreen OptionList {
        height: auto;
        border: none;
        padding: 0;
    }
    QuestionScreen Input {
        display: none;
    }
    QuestionScreen Input.visible {
        display: block;
    }
    QuestionScreen #question-hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop", "stop the turn", show=False),
        Binding("ctrl+c", "stop", "stop the turn", show=False),
    ]

    def __init__(self, request: RequestUserInput) -> None:
        super().__init__()
        self.request = request
        self.answers: dict[str, list[str]] = {}
        self._index = 0

    @property
    def question(self) -> RequestUserInputQuestion:
        return self.request.questions[self._index]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="question-text")
            yield OptionList(id="question-choices")
            yield Input(placeholder="Your answer (enter to send)", id="question-other")
            yield Static("enter to answer · a number picks that option · esc stops the turn",
                         id="question-hint")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        question = self.question
        self.query_one("#question-text", Static).update(
            _heading(self._index + 1, len(self.request.questions), question))
        choices = self.query_one("#question-choices", OptionList)
        choices.clear_options()
        options = question.options if isinstance(question.options, list) else []
        for number, option in enumerate(options, start=1):
            label = Text(f"{number}. {option.label}")
            if option.description:
                label.append(f"  {option.description}", style="dim")
            choices.add_option(Option(label, id=str(number - 1)))
        if question.is_other or not options:
            label = Text(f"{len(options) + 1}. {OTHER}")
            label.append("  type your own answer", style="dim")
            choices.add_option(Option(label, id="other"))
        choices.highlighted = 0
        other = self.query_one("#question-other", Input)
        other.value = ""
        other.remove_class("visible")
        choices.focus()

    def on_key(self, event: Key) -> None:
        choices = self.query_one("#question-choices", OptionList)
        if choices.has_focus and event.character and event.character.isdigit():
            index = int(event.character) - 1
            if 0 <= index < choices.option_count:
                event.stop()
                choices.highlighted = index
                self._choose(choices.get_option_at_index(index).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id == "other":
            other = self.query_one("#question-other", Input)
            other.add_class("visible")
            other.focus()
            return
        options = self.question.options if isinstance(self.question.options, list) else []
        if option_id is not None and option_id.isdigit() and int(option_id) < len(options):
            self._answer([options[int(option_id)].label])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = event.value.strip()
        self._answer([NOTE_PREFIX + typed] if typed else [])

    def _answer(self, given: list[str]) -> None:
        self.answers[self.question.id] = given
        if self._index + 1 < len(self.request.questions):
            self._index += 1
            self._show()
        else:
            self.dismiss(self.answers)

    def action_stop(self) -> None:
        self.dismiss(None)
