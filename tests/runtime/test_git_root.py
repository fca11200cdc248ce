"""Which folder holds the repository, on real folders and a real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.waits import WAIT_SECONDS

from llmx.runtime.instructions import find_git_root


def test_an_empty_git_folder_is_not_a_repository(tmp_path: Path) -> None:
    # What the sandbox leaves while a command runs: an empty .git masking a missing one.
    plain = tmp_path / "plain"
    (plain / "sub" / ".git").mkdir(parents=True)
    assert find_git_root(plain / "sub") is None
    subprocess.run(["git", "init", "-q", str(plain)], check=True, timeout=WAIT_SECONDS)
    assert find_git_root(plain / "sub") == plain


def test_a_gitdir_file_marks_a_worktree(tmp_path: Path) -> None:
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: ../main/.git/worktrees/wt\n")
    assert find_git_root(tmp_path / "wt") == tmp_path / "wt"
    (tmp_path / "wt" / ".git").write_text("not a pointer\n")
    assert find_git_root(tmp_path / "wt") is None
