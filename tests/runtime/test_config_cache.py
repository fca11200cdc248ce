"""The validated-config cache: same result as a full load, never hiding an error."""

from __future__ import annotations

import enum
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from runtime.test_config import CODEX_CONFIGS, FULL
from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx.runtime.config_cache import CACHE_FILE_NAME, load_config_cached
from llmx.runtime.config_load import load_config
from llmx.runtime.config_toml import ConfigError

_EXTRA = FULL + '\nmodle = "typo"\n[projects."/srv/app"]\ntrust_level = "trusted"\n'


def _assert_same(fast: Any, full: Any, path: str = "") -> None:
    """Every field of the pydantic model, compared on the cached object."""
    if isinstance(full, BaseModel):
        assert type(fast).__name__ == type(full).__name__, path
        for name in type(full).model_fields:
            _assert_same(getattr(fast, name), getattr(full, name), f"{path}.{name}")
    elif isinstance(full, dict):
        assert isinstance(fast, dict), path
        assert sorted(fast) == sorted(full), path
        for key in full:
            _assert_same(fast[key], full[key], f"{path}[{key}]")
    elif isinstance(full, enum.Enum):
        assert fast is full, path
    else:
        assert fast == full, path
        assert type(fast) is type(full), path


def _cached_twice(home: Path, **kwargs: Any) -> Any:
    first = load_config_cached(home, **kwargs)
    assert (home / CACHE_FILE_NAME).exists()
    second = load_config_cached(home, **kwargs)
    # The second load came from the cache: not a pydantic model.
    assert not isinstance(second.config, BaseModel)
    return first, second


@pytest.mark.parametrize(
    ("text", "kwargs"),
    [
        (FULL, {}),
        (FULL, {"profile": "fast"}),
        (FULL, {"profile": "careful", "flags": {"model": "flag-model"}}),
        (_EXTRA, {"overrides": ["rollout.fsync=never",
                                "model_providers.local.stream_max_retries=7"]}),
        ("", {}),
    ],
    ids=["full", "profile", "profile-and-flag", "overrides-and-warnings", "empty"],
)
def test_a_cached_config_equals_a_full_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, kwargs: dict[str, Any]
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "config.toml").write_text(text)
    _, cached = _cached_twice(tmp_path, **kwargs)
    full = load_config(tmp_path, env={}, **kwargs)
    _assert_same(cached.config, full.config)
    _assert_same(cached.provider, full.provider)
    assert cached.provider.effective_stream_idle_timeout_ms == (
        full.provider.effective_stream_idle_timeout_ms)
    assert cached.provider.effective_request_max_retries == (
        full.provider.effective_request_max_retries)
    assert (cached.provider_id, cached.profile, cached.path) == (
        full.provider_id, full.profile, full.path)
    assert cached.warnings == full.warnings
    assert dict(cached.document) == dict(full.document)


@pytest.mark.parametrize("source", CODEX_CONFIGS, ids=lambda p: p.name)
def test_codex_configs_are_cached_faithfully(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    shutil.copy(source, tmp_path / "config.toml")
    _, cached = _cached_twice(tmp_path)
    full = load_config(tmp_path, env={})
    _assert_same(cached.config, full.config)
    _assert_same(cached.provider, full.provider)


def test_an_edit_that_breaks_the_file_is_reported_despite_the_cache(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "o3"\n[rollout]\nfsync = "turn"\n')
    _cached_twice(tmp_path)
    stat = config.stat()
    # Same size, same timestamps: only the bytes differ.
    config.write_text('model = "o3"\n[rollout]\nfsync = "tur"\n ')
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(ConfigError) as cached_error:
        load_config_cached(tmp_path)
    with pytest.raises(ConfigError) as full_error:
        load_config(tmp_path)
    assert str(cached_error.value) == str(full_error.value)
    assert "`rollout.fsync` = \"tur\"" in str(cached_error.value)


def test_other_overrides_are_a_miss(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n')
    _cached_twice(tmp_path)
    other = load_config_cached(tmp_path, overrides=["model=gpt-x"])
    assert other.config.model == "gpt-x"
    with pytest.raises(ConfigError, match="sandbox_mode"):
        load_config_cached(tmp_path, overrides=["sandbox_mode=wide-open"])


def test_openai_base_url_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    first, _ = _cached_twice(tmp_path)
    assert first.provider.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:10/v1")
    assert load_config_cached(tmp_path).provider.base_url == "http://127.0.0.1:10/v1"


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"key": 1}', b"[]"])
def test_a_corrupt_cache_falls_back_and_is_rewritten(tmp_path: Path, garbage: bytes) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n')
    (tmp_path / CACHE_FILE_NAME).write_bytes(garbage)
    loaded = load_config_cached(tmp_path)
    assert isinstance(loaded.config, BaseModel)
    assert loaded.config.model == "o3"
    assert json.loads((tmp_path / CACHE_FILE_NAME).read_bytes())["config"]["model"] == "o3"


def test_a_tampered_shape_is_a_miss(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n')
    load_config_cached(tmp_path)
    cache = tmp_path / CACHE_FILE_NAME
    entry = json.loads(cache.read_bytes())
    entry["shapes"]["RolloutConfig"]["fields"]["fsync"] = ["enum", "NoSuchEnum"]
    cache.write_text(json.dumps(entry))
    assert isinstance(load_config_cached(tmp_path).config, BaseModel)


def test_the_cache_is_private_and_not_written_when_told_not_to(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n')
    load_config_cached(tmp_path, write=False)
    assert not (tmp_path / CACHE_FILE_NAME).exists()
    load_config_cached(tmp_path)
    assert (tmp_path / CACHE_FILE_NAME).stat().st_mode & 0o777 == 0o600
    # A home that does not exist is not created for a cache.
    load_config_cached(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_toml_dates_are_not_cached(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n[notice]\nseen = 2025-01-01\n')
    load_config_cached(tmp_path)
    assert not (tmp_path / CACHE_FILE_NAME).exists()


def test_a_cache_hit_imports_no_pydantic(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n[history]\npersistence = "none"\n')
    load_config_cached(tmp_path)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from llmx.runtime.config_cache import load_config_cached\n"
        f"loaded = load_config_cached(Path({str(tmp_path)!r}))\n"
        "print(loaded.config.model, loaded.config.history.persistence.value,"
        " 'pydantic' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_BASE_URL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PROJECT_ROOT, env=env, timeout=WAIT_SECONDS).stdout
    assert out.split() == ["o3", "none", "False"]
