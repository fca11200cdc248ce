"""One ``model_catalog_json`` file, read by llmx and by the real Codex CLI 0.169: each
model of it is offered the same tools by both (Codex's goal, search and sub-agent tools
aside), and a model the file does not name gets the fallback's in both."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import API_KEY_ENV, make_env
from interop.codex_cli import needs_codex, run_codex
from runtime.test_tools_per_model import NOT_IN_LLMX, first_request, name
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer

pytestmark = needs_codex


def _catalog(path: Path) -> None:
    bundled = json.loads((FIXTURES / "codex-models" / "bundled_catalog.json").read_text())
    [base] = [m for m in bundled["models"] if m["slug"] == "gpt-5.5"]
    # Codex requires instructions in every entry of a catalog file.
    base = {**base, "base_instructions": "You are a coding agent."}
    variants = {"local-nopatch": {"apply_patch_tool_type": None,
                                  "web_search_tool_type": "text"},
                "local-noshell": {"shell_type": "disabled"},
                "local-full": {"context_window": 64000}}
    models = [{**copy.deepcopy(base), "slug": slug, "display_name": slug, **changes}
              for slug, changes in variants.items()]
    path.write_text(json.dumps({"models": models}))


@pytest.mark.parametrize("model", ["local-nopatch", "local-noshell", "local-full-q4", "gpt-5.5"])
def test_codex_and_llmx_offer_a_catalog_model_the_same_tools(tmp_path: Path,
                                                               model: str) -> None:
    catalog = tmp_path / "catalog.json"
    _catalog(catalog)
    extra = f'model_catalog_json = "{catalog}"\n'
    script = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}
    (tmp_path / "codex").mkdir()
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path / "codex", server.base_url, config_extra=extra)
        ran = run_codex("exec", "--skip-git-repo-check", "-m", model, "say hi",
                        home=env.home, cwd=env.workspace,
                        env={**env.env(), API_KEY_ENV: "dummy"})
        assert ran.returncode == 0, ran.stderr
        codex: list[dict[str, Any]] = server.model_requests()[0].body["tools"]
    [body] = asyncio.run(first_request(tmp_path / "llmx", model, extra=extra))
    sent = body["tools"]
    assert [name(t) for t in sent] == [name(t) for t in codex if name(t) not in NOT_IN_LLMX]
    assert [t for t in sent if t["type"] == "web_search"] == [
        t for t in codex if t["type"] == "web_search"]
