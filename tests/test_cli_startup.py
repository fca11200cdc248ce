"""``llmx --help`` and ``--version`` must not pay for heavy imports."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("httpx", "rich", "pydantic", "sqlite_utils", "msgspec", "aiofiles", "portalocker")


def _modules_loaded_by(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from llmx.cli.main import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_version_prints_and_imports_nothing_heavy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("llmx ")
    loaded = _modules_loaded_by(["--version"])
    assert not [m for m in HEAVY if m in loaded]


def test_help_imports_nothing_heavy() -> None:
    loaded = _modules_loaded_by(["--help"])
    assert not [m for m in HEAVY if m in loaded]
