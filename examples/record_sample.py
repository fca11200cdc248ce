"""Record ``examples/sample.rollout.jsonl`` from a real ``llmx exec`` run.

Usage: ``.venv/bin/python examples/record_sample.py [OUTPUT]`` (default: the sample beside
this file). It runs llmx with the interpreter it was started with, so that one must have
llmx's libraries: the checkout's ``.venv`` (``scripts/bootstrap`` makes it) has them.

It starts the loopback test model server (``tests/support/model_server.py``) with
``sample_model_script.json``, creates a throwaway git project and ``$LLMX_HOME`` in a
temporary directory, and runs ``python -m llmx exec`` there under ``workspace-write`` with
``on-request`` approvals and one scripted ``--approval-decision approved``. The model
writes a file in the workspace, tries to write outside it (the kernel sandbox refuses),
asks for an escalated run (approved, recorded as an ``escalation`` line), applies a patch
and answers. The rollout is copied with the temporary directory's path replaced by
``/home/dev``, so the stored copy names ``/home/dev/project`` rather than this machine.
Needs a working kernel sandbox (``llmx sandbox explain`` says which backend would run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL_SCRIPT = HERE / "sample_model_script.json"
SAMPLE = HERE / "sample.rollout.jsonl"
NEUTRAL_ROOT = "/home/dev"
PROMPT = "Write hello.txt, leave a shared note in ../shared, then tidy up hello.txt."
KEY_ENV = "LLMX_SAMPLE_MODEL_KEY"


def _start_model_server(scratch: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = scratch / "port"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "model_server.py"),
         "--script", str(MODEL_SCRIPT), "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit("record_sample: the model server did not start")
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port_file.read_text().strip()}/v1"


def _prepare(scratch: Path, base_url: str) -> tuple[Path, Path]:
    home = scratch / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        # A model of Codex's catalog: a model it does not know is not offered apply_patch.
        'model = "gpt-5.5"\nmodel_provider = "mock"\n'
        "[sandbox_workspace_write]\n"
        # The scratch directory is under /tmp: keep /tmp out of the writable roots, so the
        # write to ../shared is one the sandbox refuses.
        "exclude_slash_tmp = true\nexclude_tmpdir_env_var = true\n"
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{base_url}"\nenv_key = "{KEY_ENV}"\n'
        'wire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n'
    )
    project = scratch / "project"
    project.mkdir()
    (scratch / "shared").mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    return home, project


def _run_exec(home: Path, project: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("LLMX_", "OPENAI_"))}
    # HOME points at an empty directory so the login shell's profile prints nothing of
    # this machine into the recorded command output.
    env.update(LLMX_HOME=str(home), HOME=str(home), NO_COLOR="1", PYTHONPATH=str(ROOT),
               **{KEY_ENV: "sample"})
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "exec", "-s", "workspace-write", "-a", "on-request",
         "--approval-decision", "approved", PROMPT],
        cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"record_sample: llmx exec failed with status {result.returncode}")


def record(output: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="llmx-sample-") as name:
        scratch = Path(name).resolve()
        server, base_url = _start_model_server(scratch)
        try:
            home, project = _prepare(scratch, base_url)
            _run_exec(home, project)
        finally:
            server.terminate()
            server.wait(timeout=30)
        [rollout] = sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"))
        data = rollout.read_bytes().replace(str(scratch).encode(), NEUTRAL_ROOT.encode())
    output.write_bytes(data)


def _check_interpreter() -> None:
    """Refuse, in one line, an interpreter that cannot run llmx (a system python3
    without msgspec, httpx...), before anything is started."""
    probe = subprocess.run(
        [sys.executable, "-c", "import llmx.cli.main, llmx.runtime"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        check=False,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        why = lines[-1] if lines else f"status {probe.returncode}"
        raise SystemExit(
            f"record_sample: {sys.executable} cannot run llmx ({why}) — run it with the "
            "checkout's interpreter: .venv/bin/python examples/record_sample.py "
            "(scripts/bootstrap creates .venv)")


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE
    _check_interpreter()
    record(output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
