"""Running ``llmx replay`` in-process on real files, and the golden-file helpers."""

from __future__ import annotations

import io
import os
from pathlib import Path

from llmx.cli.replay_cmd import replay

GOLDEN = Path(__file__).parent / "golden" / "exec"
# ``UPDATE_GOLDEN=1 pytest tests/projections`` rewrites the golden files from the current
# output; review the diff against Codex's real outputs before committing.
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


class _Pipe(io.StringIO):
    """An in-memory stream that says it is not a terminal (like a pipe or a file)."""

    def isatty(self) -> bool:
        return False


def run_replay(
    path: Path, *, as_json: bool = False, color: bool = False, with_parent: bool = False
) -> tuple[int, str, str]:
    out, err = _Pipe(), _Pipe()
    code = replay(path, as_json=as_json, color=color, with_parent=with_parent, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def fixture_name(path: Path) -> str:
    return path.name.removesuffix(".jsonl").removesuffix(".rollout")


def check_golden(name: str, actual: str) -> None:
    golden = GOLDEN / name
    if UPDATE_GOLDEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing golden file {golden.name}; run with UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")
