"""apply_patch: parsing Codex's patch format and applying it to real files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from llmx.runtime.tools.patch_apply import (
    FileDelete,
    FileUpdate,
    PatchApplyError,
    apply_plan,
    plan_patch,
    seek_sequence,
)
from llmx.runtime.tools.patch_format import (
    AddFile,
    DeleteFile,
    PatchParseError,
    UpdateFile,
    parse_patch,
)
from llmx.sandbox.no_follow import SymlinkInPath


def _patch(*lines: str) -> str:
    return "\n".join(("*** Begin Patch", *lines, "*** End Patch"))


def _apply(text: str, cwd: Path) -> str:
    plan = plan_patch(parse_patch(text), cwd)
    apply_plan(plan)
    return plan.success_message()


def test_add_update_delete_as_codex_reports_them(tmp_path: Path) -> None:
    (tmp_path / "update_me.txt").write_text("line one\nline two\nline three\n")
    (tmp_path / "delete_me.txt").write_text("obsolete\n")
    patch = (
        "*** Begin Patch\n*** Add File: src/added.py\n+def hello():\n+    return \"hello\"\n"
        "*** Update File: update_me.txt\n@@\n line one\n-line two\n+line two (patched)\n"
        " line three\n*** Delete File: delete_me.txt\n*** End Patch"
    )
    plan = plan_patch(parse_patch(patch), tmp_path)
    # Nothing is written before apply_plan.
    assert not (tmp_path / "src").exists()
    update = plan.changes[1]
    assert isinstance(update, FileUpdate)
    assert update.unified_diff == (
        "@@ -1,3 +1,3 @@\n line one\n-line two\n+line two (patched)\n line three\n"
    )
    deleted = plan.changes[2]
    assert isinstance(deleted, FileDelete)
    assert deleted.content == "obsolete\n"
    apply_plan(plan)
    assert plan.success_message() == (
        "Success. Updated the following files:\nA src/added.py\nM update_me.txt\nD delete_me.txt\n"
    )
    assert (tmp_path / "src/added.py").read_text() == 'def hello():\n    return "hello"\n'
    assert (tmp_path / "update_me.txt").read_text() == "line one\nline two (patched)\nline three\n"
    assert not (tmp_path / "delete_me.txt").exists()


def test_move_writes_destination_and_removes_source(tmp_path: Path) -> None:
    (tmp_path / "rename_me.txt").write_text("alpha\nbeta\n")
    message = _apply(
        "*** Begin Patch\n*** Update File: rename_me.txt\n*** Move to: renamed.txt\n@@\n alpha\n"
        "-beta\n+beta (moved)\n*** End Patch",
        tmp_path,
    )
    assert message == "Success. Updated the following files:\nM renamed.txt\n"
    assert not (tmp_path / "rename_me.txt").exists()
    assert (tmp_path / "renamed.txt").read_text() == "alpha\nbeta (moved)\n"


def test_update_of_missing_file_fails_before_any_write(tmp_path: Path) -> None:
    patch = (
        "*** Begin Patch\n*** Add File: first.txt\n+x\n*** Update File: does_not_exist.txt\n"
        "@@\n-foo\n+bar\n*** End Patch"
    )
    with pytest.raises(PatchApplyError, match=r"Failed to read file to update .*does_not_exist"):
        plan_patch(parse_patch(patch), tmp_path)
    assert not (tmp_path / "first.txt").exists()


def test_context_header_selects_the_second_occurrence(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("def a():\n    x = 1\n\ndef b():\n    x = 1\n")
    _apply(_patch("*** Update File: f.py", "@@ def b():", "-    x = 1", "+    x = 2"), tmp_path)
    assert (tmp_path / "f.py").read_text() == "def a():\n    x = 1\n\ndef b():\n    x = 2\n"


def test_missing_context_is_reported(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\n")
    with pytest.raises(PatchApplyError, match="Failed to find context 'nope'"):
        plan_patch(parse_patch(_patch("*** Update File: f.txt", "@@ nope", "-a", "+b")), tmp_path)


def test_unmatched_lines_are_reported_with_the_expected_text(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a\n")
    with pytest.raises(PatchApplyError, match=r"Failed to find expected lines in .*f\.txt:\nzzz"):
        plan_patch(parse_patch(_patch("*** Update File: f.txt", "-zzz", "+b")), tmp_path)


def test_typographic_punctuation_and_whitespace_still_match(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("say \u201chi\u201d \u2014 now   \n")
    _apply(_patch("*** Update File: f.txt", "@@", '-say "hi" - now', "+done"), tmp_path)
    assert (tmp_path / "f.txt").read_text() == "done\n"


def test_end_of_file_anchors_the_match_at_the_end(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x\ny\nx\n")
    _apply(_patch("*** Update File: f.txt", "@@", "-x", "+z", "*** End of File"), tmp_path)
    assert (tmp_path / "f.txt").read_text() == "x\ny\nz\n"


def test_pure_addition_appends_and_file_keeps_final_newline(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a")
    _apply("*** Begin Patch\n*** Update File: f.txt\n@@\n+b\n*** End Patch", tmp_path)
    assert (tmp_path / "f.txt").read_text() == "a\nb\n"


def test_heredoc_wrapper_and_padded_markers_are_accepted() -> None:
    hunks = parse_patch(
        "<<'EOF'\n  *** Begin Patch \n*** Delete File: gone.txt\n*** End Patch  \nEOF\n"
    )
    assert hunks == [DeleteFile(Path("gone.txt"))]


def test_parse_builds_typed_hunks() -> None:
    hunks = parse_patch(
        "*** Begin Patch\n*** Add File: a.txt\n+1\n+2\n*** Update File: b.txt\n*** Move to: c.txt\n"
        "@@ ctx\n a\n-b\n+c\n@@\n+d\n*** End Patch\n"
    )
    assert hunks[0] == AddFile(Path("a.txt"), "1\n2\n")
    update = hunks[1]
    assert isinstance(update, UpdateFile)
    assert update.move_path == Path("c.txt")
    assert [chunk.change_context for chunk in update.chunks] == ["ctx", None]
    assert update.chunks[0].old_lines == ("a", "b")
    assert update.chunks[0].new_lines == ("a", "c")
    assert update.chunks[1].new_lines == ("d",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad", "The first line of the patch must be '\\*\\*\\* Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a\n+x", "The last line of the patch must be"),
        ("*** Begin Patch\n*** Frobnicate: a\n*** End Patch", "is not a valid hunk header"),
        (_patch("*** Update File: a"), "Update file hunk for path 'a' is empty"),
        (_patch("*** Update File: a", "@@", "!x"), "Unexpected line found in update hunk"),
    ],
)
def test_malformed_patches_are_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PatchParseError, match=message):
        parse_patch(text)


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    return root, outside


def test_targets_are_the_resolved_paths_of_both_move_ends(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    (root / "in.txt").write_text("a\n")
    (root / "link").symlink_to(outside)
    plan = plan_patch(
        parse_patch(
            "*** Begin Patch\n*** Update File: in.txt\n*** Move to: ../escape.txt\n@@\n-a\n+b\n"
            "*** Add File: link/x.txt\n+y\n*** End Patch"
        ),
        root,
    )
    assert [(t.named, t.target, t.via) for t in plan.targets] == [
        (root / "in.txt", root / "in.txt", None),
        (root.parent / "escape.txt", root.parent / "escape.txt", None),
        (root / "link" / "x.txt", outside / "x.txt", root / "link"),
    ]
    # The change itself names the target: that is what is shown, checked and written.
    assert plan.changes[1].path == outside / "x.txt"


def test_a_link_planted_after_the_check_fails_the_write(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    (root / "sub").mkdir()
    plan = plan_patch(parse_patch(_patch("*** Add File: sub/deep/x.txt", "+x")), root)
    assert plan.targets[0].target == root / "sub" / "deep" / "x.txt"
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside)
    with pytest.raises(SymlinkInPath):
        apply_plan(plan)
    assert list(outside.iterdir()) == []


def test_a_final_link_planted_after_the_check_is_not_followed(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    (root / "f.txt").write_text("a\n")
    plan = plan_patch(parse_patch(_patch("*** Update File: f.txt", "-a", "+b")), root)
    (root / "f.txt").unlink()
    (root / "f.txt").symlink_to(outside / "victim.txt")
    with pytest.raises(SymlinkInPath):
        apply_plan(plan)
    assert not (outside / "victim.txt").exists()


def test_deleting_a_link_removes_the_link_not_its_target(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    (outside / "kept.txt").write_text("kept\n")
    (root / "l.txt").symlink_to(outside / "kept.txt")
    plan = plan_patch(parse_patch(_patch("*** Delete File: l.txt")), root)
    assert plan.targets[0].target == root / "l.txt"
    apply_plan(plan)
    assert not (root / "l.txt").is_symlink()
    assert (outside / "kept.txt").read_text() == "kept\n"


def test_an_unreadable_file_is_not_read_for_an_update(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    (outside / "secret.env").write_text("TOKEN=1\n")
    (root / "s.env").symlink_to(outside / "secret.env")

    def refusal(path: Path) -> str | None:
        return "denied by the sandbox policy" if path == outside / "secret.env" else None

    with pytest.raises(PatchApplyError, match=r"s\.env: denied by the sandbox policy"):
        plan_patch(parse_patch(_patch("*** Update File: s.env", "-TOKEN=1", "+X")), root,
                   read_refusal=refusal)


def test_a_fifo_at_the_target_fails_instead_of_blocking(arena: tuple[Path, Path]) -> None:
    root, _ = arena
    os.mkfifo(root / "pipe")
    plan = plan_patch(parse_patch(_patch("*** Add File: pipe", "+x")), root)
    # No reader on the FIFO: a non-blocking open for writing fails with ENXIO.
    with pytest.raises(OSError, match="No such device or address") as raised:
        apply_plan(plan)
    assert raised.value.errno == errno.ENXIO


def test_seek_sequence_prefers_exact_match_over_loose_one() -> None:
    lines = ["x ", "x"]
    assert seek_sequence(lines, ["x"], 0, eof=False) == 1
    assert seek_sequence(lines, ["x "], 0, eof=False) == 0
    assert seek_sequence(lines, ["q"], 0, eof=False) is None
    assert seek_sequence(lines, [], 1, eof=False) == 1
