"""``/permissions``: pick a sandbox and approval preset for the next turns."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from llmx.cli.tui.slash_commands import PERMISSION_PRESETS


class PermissionsScreen(ModalScreen[tuple[str, str] | None]):
    """Dismissed with ``(sandbox mode, approval policy)``, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "back")]
    DEFAULT_CSS = """
    PermissionsScreen { align: center bottom; }
    PermissionsScreen > Vertical { height: auto; background: $surface;
        border-top: solid $accent; padding: 0 1; }
    PermissionsScreen OptionList { height: auto; border: none; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Choose what llmx may do without asking")
            yield OptionList(*(
                Option(f"{label}  ({mode}, approval {policy})", id=str(index))
                for index, (label, mode, policy) in enumerate(PERMISSION_PRESETS)
            ))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        _label, mode, policy = PERMISSION_PRESETS[int(event.option.id or 0)]
        self.dismiss((mode, policy))

    def action_cancel(self) -> None:
        self.dismiss(None)
