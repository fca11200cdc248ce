"""The real TypeScript SDK (``@openai/codex-sdk`` 0.163.0) drives ``llmx exec``.

That SDK is not an app-server client: it runs ``codex exec --experimental-json`` with the
prompt on stdin and reads the JSONL events. Pointed at llmx with ``codexPathOverride``, it
must run a thread and resume it. ``scripts/check`` installs the SDK (without the Codex
binaries it would otherwise pull in) into ``.venv/codex-sdk-ts``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e.exec_harness import API_KEY_ENV, make_env, rollout_lines
from support import PROJECT_ROOT
from support.model_server import scripted
from support.waits import WAIT_SECONDS

SDK = PROJECT_ROOT / ".venv" / "codex-sdk-ts" / "node_modules" / "@openai" / "codex-sdk"
NODE = shutil.which("node")
LLMX = Path(sys.executable).with_name("llmx")

pytestmark = [
    pytest.mark.skipif(NODE is None,
                       reason="node is not installed (the TypeScript SDK runs on it)"),
    pytest.mark.skipif(not SDK.is_dir(), reason="@openai/codex-sdk is not installed in "
                       ".venv/codex-sdk-ts (scripts/check installs it from npm)"),
    pytest.mark.skipif(not LLMX.exists(), reason="no llmx console script beside the test "
                       "interpreter (install llmx into the environment)"),
]

DRIVER = """
import { Codex } from %(sdk)s;
const codex = new Codex({ codexPathOverride: process.env.LLMX_BIN, apiKey: "sdk-key" });
const options = { workingDirectory: process.env.WORKSPACE, skipGitRepoCheck: true,
                  threadSource: "ts-sdk-test", sandboxMode: "read-only",
                  cyberAccessProgram: "standard" };
const thread = codex.startThread(options);
const first = await thread.run("say hi");
const again = codex.resumeThread(thread.id, options);
const second = await again.run("and once more");
console.log(JSON.stringify({ id: thread.id, first: first.finalResponse,
  firstItems: first.items, usage: first.usage, second: second.finalResponse }));
"""


def test_typescript_sdk_runs_and_resumes_a_thread(tmp_path: Path) -> None:
    script = {"turns": [
        {"match": "say hi", "items": [{"type": "message", "text": "Hi from llmx."}]},
        {"match": "and once more", "items": [{"type": "message", "text": "Again."}]},
    ]}
    with scripted(script) as server:
        env = make_env(tmp_path, server.base_url)
        driver = tmp_path / "driver.mjs"
        entry = (SDK / "dist" / "index.js").as_uri()
        driver.write_text(DRIVER % {"sdk": json.dumps(entry)})
        run_env = env.env(LLMX_BIN=str(LLMX), WORKSPACE=str(env.workspace))
        completed = subprocess.run([str(NODE), str(driver)], capture_output=True, text=True,
                                   env=run_env, timeout=WAIT_SECONDS, check=False,
                                   cwd=env.workspace)
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        assert result["first"] == "Hi from llmx."
        assert result["second"] == "Again."
        assert [item["type"] for item in result["firstItems"]] == ["agent_message"]
        assert result["usage"]["input_tokens"] > 0
        # The second run resumed the same rollout; the model saw the first turn.
        [rollout] = env.rollouts()
        meta = rollout_lines(rollout)[0]["payload"]
        assert meta["id"] == result["id"]
        assert meta["thread_source"] == "ts-sdk-test"
        assert meta["originator"] == "codex_sdk_ts"
        last = server.model_requests()[-1]
        assert "say hi" in json.dumps(last.body["input"])
        assert last.headers["originator"] == "codex_sdk_ts"
        assert API_KEY_ENV in run_env
