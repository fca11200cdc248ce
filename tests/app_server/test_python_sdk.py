"""Codex's own Python SDK (``openai-codex`` 0.163.0 from the package index) as a client of
``llmx app-server``, unmodified: ``CodexConfig(codex_bin=<llmx>)`` is all it is told.

``scripts/check`` installs the SDK (without the Codex binary it would pull in).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.app_server_client import install_rollout, make_home

openai_codex = pytest.importorskip(
    "openai_codex", reason="openai-codex (Codex's Python SDK) is not installed; scripts/check "
    "installs it from the package index",
)

LLMX = Path(sys.executable).with_name("llmx")
pytestmark = [
    pytest.mark.skipif(not LLMX.exists(), reason="no llmx console script beside the test "
                       "interpreter (install llmx into the environment)"),
    # The SDK's close() leaves its subprocess pipes for the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path)


def sdk(home: Path, cwd: Path, *overrides: str) -> openai_codex.Codex:
    config = openai_codex.CodexConfig(codex_bin=str(LLMX), cwd=str(cwd),
                                      env={"LLMX_HOME": str(home)},
                                      config_overrides=tuple(overrides))
    return openai_codex.Codex(config)


def test_sdk_initializes_and_reads_recorded_threads(home: Path, tmp_path: Path) -> None:
    thread_id = install_rollout(home, "approval_untrusted_accept")
    with sdk(home, tmp_path, 'model="sdk-model"') as codex:
        assert codex.metadata.serverInfo is not None
        assert codex.metadata.serverInfo.version.startswith("0.169.0")
        listed = codex.thread_list(limit=5)
        assert [thread.id for thread in listed.data] == [thread_id]
        read = codex._client.thread_read(thread_id, include_turns=True)
        [turn] = read.thread.turns
        assert turn.status.value == "completed"
        assert len(turn.items) == 3
        # -c before the command, as the SDK passes config_overrides, reached the server.
        assert [model.id for model in codex.models().data] == ["sdk-model"]
        assert codex.account().requires_openai_auth is False
        codex.thread_archive(thread_id)
        assert codex.thread_list().data == []
        assert codex.thread_unarchive(thread_id).id == thread_id
