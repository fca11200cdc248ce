"""An MCP server's form (an elicitation with fields), one field at a time.

Each field shows its title, its description and what to type (text, a number, yes or
no, one of the choices by value or number); Enter takes the answer, which is checked
against the field's schema: a value that does not fit is said on one line and the same
field asked again. An optional field may be left empty. Esc declines the whole form.
The screen only returns the content; the app submits it, so the answer is in the log
before the server gets it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from llmx.projections.transcript import PendingApproval
from llmx.runtime.mcp.forms import FormError, FormField, parse_answer


def field_text(request: PendingApproval, fields: list[FormField], index: int) -> Text:
    """The question, and the field now asked."""
    field = fields[index]
    text = Text()
    text.append(f"{request.server} asks:\n", style="bold")
    if request.reason:
        text.append(f"{request.reason}\n")
    text.append(f"\nField {index + 1}/{len(fields)}: ", style="dim")
    text.append(field.title, style="bold")
    text.append(" (required)" if field.required else " (optional: enter leaves it out)",
                style="dim")
    text.append("\n")
    if field.description:
        text.append(f"{field.description}\n", style="dim")
    if field.kind in ("enum", "multi"):
        for number, (value, label) in enumerate(zip(field.options, field.labels,
                                                    strict=True), start=1):
            text.append(f"  {number}. {label}" + (f" ({value})" if label != value else "")
                        + "\n")
    text.append(f"Type {field.hint()}\n", style="dim")
    return text


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """Dismissed with the form's content, or None when declined (Esc)."""

    DEFAULT_CSS = """
    FormScreen {
        align: center bottom;
    }
    FormScreen > Vertical {
        width: 100%;
        height: auto;
        max-height: 100%;
        border-top: solid $accent;
        background: $surface;
        padding: 0 1;
    }
    FormScreen #form-error {
        color: $error;
    }
    FormScreen #form-hint {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "decline", "decline", show=False),
    ]

    def __init__(self, request: PendingApproval, fields: list[FormField]) -> None:
        super().__init__()
        self.request = request
        self.fields = fields
        self.content: dict[str, Any] = {}
        self._index = 0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="form-field")
            yield Input(placeholder="Your answer (enter to send)", id="form-input")
            yield Static("", id="form-error")
            yield Static("enter answers this field · esc declines the form", id="form-hint")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        field = self.fields[self._index]
        self.query_one("#form-field", Static).update(
            field_text(self.request, self.fields, self._index))
        entry = self.query_one("#form-input", Input)
        entry.value = "" if field.default is None else _shown(field.default)
        entry.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        field = self.fields[self._index]
        try:
            value = parse_answer(field, event.value)
        except FormError as exc:
            self.query_one("#form-error", Static).update(f"{exc}; answer again")
            return
        self.query_one("#form-error", Static).update("")
        if value is not None:
            self.content[field.name] = value
        if self._index + 1 < len(self.fields):
            self._index += 1
            self._show()
        else:
            self.dismiss(self.content)

    def action_decline(self) -> None:
        self.dismiss(None)


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "yes" if default else "no"
    if isinstance(default, list):
        return ", ".join(str(item) for item in default)
    return str(default)
