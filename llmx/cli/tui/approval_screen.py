"""The approval dialog: what is asked (command, cwd, reason, or the files a patch writes)
and four answers, keyboard first: ``y`` once, ``a`` for the session, ``n`` deny, ``Esc``
deny and stop the turn. The dialog only returns the decision; the app submits it, so the
decision is in the log before the runtime acts on it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from llmx.cli.tui.cell_render import shown_command
from llmx.events.ops import ReviewDecision
from llmx.projections.transcript import PendingApproval

_CHOICES: tuple[tuple[str, ReviewDecision, str], ...] = (
    ("y", ReviewDecision.APPROVED, "Yes, proceed"),
    ("a", ReviewDecision.APPROVED_FOR_SESSION, "Yes, and don't ask again this session"),
    ("n", ReviewDecision.DENIED, "No, and continue without it"),
    ("esc", ReviewDecision.ABORT, "No, and stop the turn (tell the model what to do differently)"),
)


def question(request: PendingApproval) -> Text:
    """The body of the dialog for ``request``."""
    text = Text()
    if request.kind == "patch":
        text.append("Would you like to make the following edits?\n", style="bold")
        text.append("\n")
        for target in request.targets:
            text.append(f"  {target}\n")
    elif request.kind == "mcp":
        text.append(f"{request.server} asks:\n", style="bold")
    else:
        text.append("Would you like to run the following command?\n", style="bold")
        if request.cwd:
            text.append("\nIn: ", style="dim")
            text.append(request.cwd)
            text.append("\n")
    if request.reason:
        text.append("\nReason: ", style="dim")
        text.append(request.reason)
        text.append("\n")
    if request.kind == "exec":
        text.append("\n$ ", style="dim")
        text.append(shown_command(request.command), style="bold")
        text.append("\n")
    return text


def choice_label(index: int, *, highlighted: bool) -> str:
    """The line of choice ``index``; the highlighted one is marked as Codex marks it
    (the mark, not only the colour, says which: ``NO_COLOR`` keeps it)."""
    key, _decision, label = _CHOICES[index]
    return f"{'›' if highlighted else ' '} {index + 1}. {label} ({key})"


class ApprovalScreen(ModalScreen[ReviewDecision]):
    """Dismissed with the decision chosen."""

    DEFAULT_CSS = """
    ApprovalScreen {
        align: center bottom;
    }
    ApprovalScreen > Vertical {
        width: 100%;
        height: auto;
        max-height: 100%;
        border-top: solid $warning;
        background: $surface;
        padding: 0 1;
    }
    ApprovalScreen OptionList, ApprovalScreen OptionList:focus {
        height: auto;
        border: none;
        padding: 0;
    }
    ApprovalScreen #approval-hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('approved')", "approve once", show=False),
        Binding("a", "decide('approved_for_session')", "approve for session", show=False),
        Binding("p", "decide('approved_for_session')", "approve for session", show=False),
        Binding("n", "decide('denied')", "deny", show=False),
        Binding("escape", "decide('abort')", "abort the turn", show=False),
        Binding("ctrl+c", "decide('abort')", "abort the turn", show=False),
    ]

    def __init__(self, request: PendingApproval) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(question(self.request), id="approval-question")
            options = [Option(choice_label(index, highlighted=index == 0), id=decision.value)
                       for index, (_key, decision, _label) in enumerate(_CHOICES)]
            yield OptionList(*options, id="approval-choices")
            yield Static("Press enter to confirm or esc to cancel", id="approval-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        choices = event.option_list
        for index in range(choices.option_count):
            choices.replace_option_prompt_at_index(
                index, choice_label(index, highlighted=index == event.option_index))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.action_decide(event.option.id)

    def action_decide(self, decision: str) -> None:
        self.dismiss(ReviewDecision(decision))
