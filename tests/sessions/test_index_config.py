"""``llmx sessions`` reads only the ``[index]`` table of ``config.toml``: what is wrong
with it is one line naming the file and what to do; a file that merely mentions the word,
or is wrong elsewhere, leaves the home's sqlite index in use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _sessions(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "PG"))}
    env["LLMX_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "llmx", "sessions", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("text", "what", "todo"), [
    ('[index\nurl = "postgresql://h/db"\n', "not valid TOML (",
     "fix the file or move it away"),
    ('index = "postgresql://h/db"\n', "index is not a table",
     'write it as [index] with url = "postgresql://..."'),
    ("[index]\nurl = 5432\n", "[index] url must be a string, got 5432",
     'quote it: url = "..."'),
    ('[index]\nmachine = ["a"]\n', "[index] machine must be a string, got ['a']",
     'quote it: machine = "..."'),
])
def test_a_bad_index_table_is_one_line(tmp_path: Path, text: str, what: str,
                                       todo: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text)
    for command in (["list"], ["search", "widget"], ["sync"]):
        done = _sessions(home, *command)
        assert done.returncode == 1, done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith(f"llmx sessions {command[0]}: {home / 'config.toml'}: {what}")
        assert line.endswith(f" — {todo}"), line
        assert "Traceback" not in done.stderr


def test_the_word_alone_or_other_keys_keep_the_sqlite_index(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for text in ("# no [index] table here\n", 'model = "m"\n[otel]\nenvironment = "index"\n'):
        (home / "config.toml").write_text(text)
        done = _sessions(home, "list")
        assert (done.returncode, done.stderr) == (0, ""), text
