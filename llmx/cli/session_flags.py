"""The flags that say how a thread runs, shared by ``llmx`` (the interactive session),
``llmx resume`` and ``llmx exec``: one definition, so a flag means the same everywhere.

They are handed to the runtime's door as data (:func:`thread_options`); nothing here
resolves configuration.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from llmx.cli.choices import APPROVAL_POLICIES, SANDBOX_MODES
from llmx.cli.errors import CommandError

if TYPE_CHECKING:
    from llmx.events.primitives import ImageInput
    from llmx.runtime import ThreadOptions


def add_session_flags(parser: argparse.ArgumentParser) -> None:
    """``-C -s -a --full-auto --yolo --add-dir -m -c -p -i``."""
    parser.add_argument("-C", "--cd", metavar="DIR", help="working directory of the session")
    # Checked here, before anything else runs: a typo must not start a session.
    parser.add_argument("-s", "--sandbox", metavar="MODE",
                        choices=SANDBOX_MODES, help=" | ".join(SANDBOX_MODES))
    parser.add_argument("-a", "--ask-for-approval", metavar="POLICY",
                        choices=APPROVAL_POLICIES, help=" | ".join(APPROVAL_POLICIES))
    parser.add_argument("--full-auto", action="store_true",
                        help="workspace-write sandbox with on-request approvals")
    parser.add_argument("--dangerously-bypass-approvals-and-sandbox", "--yolo",
                        dest="bypass", action="store_true",
                        help="no sandbox and no approvals")
    parser.add_argument("--add-dir", action="append", default=[], metavar="DIR",
                        help="another writable directory (repeatable)")
    parser.add_argument("-m", "--model", help="model name")
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.toml key (TOML value; repeatable)")
    parser.add_argument("-p", "--profile", help="config profile from [profiles.NAME]")
    parser.add_argument("-i", "--image", action="append", default=[], metavar="FILE",
                        help="attach image file(s) (comma-separated, repeatable)")


def session_cwd(args: argparse.Namespace) -> Path:
    """``-C DIR`` (resolved) or the current directory; a missing one is refused."""
    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise CommandError(f"-C {args.cd}: no such directory", "pass an existing directory")
    return cwd.resolve()


def thread_options(
    args: argparse.Namespace, cwd: Path, *, ephemeral: bool = False,
    thread_source: str | None = None, require_trusted_cwd: bool = False,
    approval_policy_when_unset: str | None = None,
) -> ThreadOptions:
    """The door's options for these flags."""
    from llmx.runtime import ThreadOptions

    return ThreadOptions(
        cwd=cwd, config_overrides=tuple(args.config), profile=args.profile,
        model=args.model, sandbox_mode=args.sandbox, approval_policy=args.ask_for_approval,
        full_auto=args.full_auto, bypass_approvals_and_sandbox=args.bypass,
        add_dirs=tuple(args.add_dir), ephemeral=ephemeral, thread_source=thread_source,
        require_trusted_cwd=require_trusted_cwd,
        approval_policy_when_unset=approval_policy_when_unset,
    )


def image_inputs(values: list[str], cwd: Path) -> list[ImageInput]:
    """The images of ``-i`` (comma-separated, repeatable) as data URLs."""
    import base64
    import mimetypes

    from llmx.events.primitives import ImageInput

    items: list[ImageInput] = []
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            path = (cwd / name).resolve()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"--image {name}: {exc.strerror or exc}",
                                   "pass a readable image file") from None
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            items.append(ImageInput(image_url=url))
    return items
