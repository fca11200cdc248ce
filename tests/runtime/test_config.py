"""Loading config.toml: Codex files as is, profiles, -c overrides, precedence, bad values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES

from llmx.runtime.config.load import load_config
from llmx.runtime.config.tables import (
    ApprovalPolicy,
    FsyncPolicy,
    ReasoningEffort,
    SandboxMode,
    WireApi,
)
from llmx.runtime.config.toml import ConfigError, key_lines, parse_override

CODEX_CONFIGS = [
    CODEX_FIXTURES / "codex-home" / "config.toml",
    CODEX_FIXTURES / "codex-home" / "config_after_tui_trust.toml",
    CODEX_RICH_FIXTURES / "codex-home" / "config.toml",
    CODEX_RICH_FIXTURES / "codex-home" / "config_with_mcp_server.toml",
]


def home_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("source", CODEX_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_codex_config_files_load_without_warnings(tmp_path: Path, source: Path) -> None:
    shutil.copy(source, tmp_path / "config.toml")
    loaded = load_config(tmp_path, env={})
    assert loaded.config.model == "mock-model"
    assert loaded.provider_id == "mock"
    assert loaded.provider.wire_api is WireApi.RESPONSES
    assert loaded.provider.env_key == "MOCK_API_KEY"
    assert loaded.provider.base_url is not None
    assert loaded.provider.base_url.startswith("http://127.0.0.1:")
    assert loaded.warnings == ()


def test_mcp_servers_are_kept_and_checked(tmp_path: Path) -> None:
    shutil.copy(CODEX_RICH_FIXTURES / "codex-home" / "config_with_mcp_server.toml",
                tmp_path / "config.toml")
    loaded = load_config(tmp_path, env={})
    calc = loaded.config.mcp_servers["calc"]
    assert calc["default_tools_approval_mode"] == "approve"
    assert calc["args"] == ["/home/dev/mcp/add_server.py"]
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ('command = "x"\nurl = "http://127.0.0.1:1/mcp"', "url is not supported for stdio"),
        ('command = "x"\nbearer_token_env_var = "T"',
         "bearer_token_env_var is not supported for stdio"),
        ('command = "x"\nhttp_headers = { A = "b" }', "http_headers is not supported for stdio"),
        ('url = "http://127.0.0.1:1/mcp"\nargs = ["a"]',
         "args is not supported for streamable_http"),
        ('url = "http://127.0.0.1:1/mcp"\ncwd = "/"', "cwd is not supported for streamable_http"),
        ('url = "http://127.0.0.1:1/mcp"\nbearer_token = "secret"',
         "bearer_token is not supported for streamable_http"),
        ('args = ["a"]', "invalid transport"),
        ('command = "x"\ncolour = "red"', "unknown field `colour`"),
        ('command = "x"\nenv_vars = [{ name = "A", source = "elsewhere" }]',
         "unsupported env_vars source `elsewhere`; expected `local` or `remote`"),
        ('command = "x"\ndefault_tools_approval_mode = "sometimes"',
         "`default_tools_approval_mode` must be one of auto, prompt, approve"),
        ('command = "x"\ntools.add.approval_mode = "never"',
         "`tools.add.approval_mode` must be one of auto, prompt, approve"),
        ('command = "x"\nstartup_timeout_sec = -1', "`startup_timeout_sec` must be"),
    ],
)
def test_mcp_server_tables_are_refused_as_codex_refuses_them(
    tmp_path: Path, table: str, reason: str
) -> None:
    (tmp_path / "config.toml").write_text(f'model = "m"\n\n[mcp_servers.calc]\n{table}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'config.toml'}:3: mcp_servers.calc: {reason}")
    assert message.endswith("fix the [mcp_servers.calc] table")


def test_mcp_server_keys_of_both_transports_are_read(tmp_path: Path) -> None:
    from llmx.runtime.mcp.config import HttpTransport, StdioTransport, ToolApproval, parse_servers

    (tmp_path / "config.toml").write_text(
        '[mcp_servers.local]\ncommand = "srv"\nargs = ["-v"]\nenv = { A = "1" }\n'
        'env_vars = ["B", { name = "C", source = "local" }]\ncwd = "/tmp"\n'
        "startup_timeout_ms = 2500\ntool_timeout_sec = 1.5\nrequired = true\n"
        'enabled_tools = ["add", "sub"]\ndisabled_tools = ["sub"]\n'
        'default_tools_approval_mode = "prompt"\n'
        '[mcp_servers.local.tools.add]\napproval_mode = "approve"\n'
        '[mcp_servers.remote]\nurl = "http://127.0.0.1:9/mcp"\n'
        'bearer_token_env_var = "TOKEN"\nhttp_headers = { X-A = "a" }\n'
        'env_http_headers = { X-B = "B_VAR" }\nenabled = false\n'
    )
    servers = parse_servers(load_config(tmp_path, env={}).config.mcp_servers)
    local, remote = servers["local"], servers["remote"]
    assert local.transport == StdioTransport("srv", ("-v",), {"A": "1"}, ("B", "C"), Path("/tmp"))
    assert (local.startup_timeout_sec, local.tool_timeout_sec, local.required) == (2.5, 1.5, True)
    assert [local.offers(t) for t in ("add", "sub", "mul")] == [True, False, False]
    assert local.approval_mode("add") is ToolApproval.APPROVE
    assert local.approval_mode("sub") is ToolApproval.PROMPT
    assert remote.transport == HttpTransport("http://127.0.0.1:9/mcp", "TOKEN", {"X-A": "a"},
                                             {"X-B": "B_VAR"})
    assert remote.enabled is False
    assert (remote.startup_timeout_sec, remote.tool_timeout_sec) == (10.0, 60.0)


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, env={})
    config = loaded.config
    assert loaded.provider_id == "openai"
    assert loaded.provider.base_url == "https://api.openai.com/v1"
    assert loaded.provider.env_key == "OPENAI_API_KEY"
    assert loaded.provider.effective_request_max_retries == 4
    assert loaded.provider.effective_stream_max_retries == 5
    assert loaded.provider.effective_stream_idle_timeout_ms == 300_000
    assert config.project_doc_max_bytes == 32 * 1024
    assert config.sandbox_mode is SandboxMode.READ_ONLY
    assert config.rollout.fsync is FsyncPolicy.TURN
    assert config.hide_agent_reasoning is False
    assert loaded.warnings == ()


def test_openai_base_url_can_be_moved_by_the_environment(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert loaded.provider.base_url == "http://127.0.0.1:9/v1"


def test_built_in_oss_providers_speak_chat(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, overrides=["model_provider=ollama"], env={})
    assert loaded.provider.wire_api is WireApi.CHAT
    assert loaded.provider.env_key is None


FULL = """\
model = "base-model"
model_provider = "local"
approval_policy = "on-request"
sandbox_mode = "read-only"
model_reasoning_effort = "low"
notify = ["notify-send", "llmx"]
hide_agent_reasoning = true

[model_providers.local]
name = "Local vLLM"
base_url = "http://127.0.0.1:8000/v1"
wire_api = "chat"
request_max_retries = 2
stream_idle_timeout_ms = 60000
query_params = { api-version = "1" }
http_headers = { "x-team" = "core" }
env_http_headers = { "x-org" = "LOCAL_ORG" }

[sandbox_workspace_write]
writable_roots = ["/srv/cache"]
network_access = true

[shell_environment_policy]
inherit = "core"
exclude = ["AWS_*"]

[history]
persistence = "none"
max_bytes = 1048576

[rollout]
persist_deltas = true
inline_output_cap_bytes = 4096
fsync = "always"

[profiles.fast]
model = "fast-model"
model_reasoning_effort = "minimal"
sandbox_mode = "workspace-write"

[profiles.careful]
model = "careful-model"
approval_policy = "untrusted"
"""


def test_every_section_is_read(tmp_path: Path) -> None:
    loaded = load_config(home_with(tmp_path, FULL), env={})
    config = loaded.config
    assert loaded.provider.wire_api is WireApi.CHAT
    assert loaded.provider.query_params == {"api-version": "1"}
    assert loaded.provider.http_headers == {"x-team": "core"}
    assert loaded.provider.env_http_headers == {"x-org": "LOCAL_ORG"}
    assert loaded.provider.effective_request_max_retries == 2
    assert config.notify == ["notify-send", "llmx"]
    assert config.sandbox_workspace_write.writable_roots == ["/srv/cache"]
    assert config.sandbox_workspace_write.network_access is True
    assert config.shell_environment_policy.exclude == ["AWS_*"]
    assert config.history.max_bytes == 1048576
    assert config.rollout.persist_deltas is True
    assert config.rollout.inline_output_cap_bytes == 4096
    assert config.rollout.fsync is FsyncPolicy.ALWAYS
    assert loaded.profile is None
    assert loaded.warnings == ()


def test_a_profile_replaces_top_level_values(tmp_path: Path) -> None:
    loaded = load_config(home_with(tmp_path, FULL), profile="fast", env={})
    assert loaded.profile == "fast"
    assert loaded.config.model == "fast-model"
    assert loaded.config.model_reasoning_effort is ReasoningEffort.MINIMAL
    assert loaded.config.sandbox_mode is SandboxMode.WORKSPACE_WRITE
    # Keys the profile does not set keep their config.toml value.
    assert loaded.config.approval_policy is ApprovalPolicy.ON_REQUEST


def test_the_profile_key_in_the_file_selects_a_profile(tmp_path: Path) -> None:
    loaded = load_config(home_with(tmp_path, 'profile = "careful"\n' + FULL), env={})
    assert loaded.profile == "careful"
    assert loaded.config.model == "careful-model"
    assert loaded.config.approval_policy is ApprovalPolicy.UNTRUSTED


def test_precedence_flags_over_overrides_over_profile_over_file(tmp_path: Path) -> None:
    home = home_with(tmp_path, FULL)
    by_profile = load_config(home, profile="fast", env={})
    by_override = load_config(home, profile="fast", overrides=["model=from-c"], env={})
    by_flag = load_config(home, profile="fast", overrides=["model=from-c"],
                          flags={"model": "from-flag", "sandbox_mode": None}, env={})
    assert by_profile.config.model == "fast-model"
    assert by_override.config.model == "from-c"
    assert by_flag.config.model == "from-flag"
    # A flag given as None (not on the command line) changes nothing.
    assert by_flag.config.sandbox_mode is SandboxMode.WORKSPACE_WRITE


def test_overrides_can_select_and_edit_a_profile(tmp_path: Path) -> None:
    loaded = load_config(home_with(tmp_path, FULL),
                         overrides=['profile="fast"', "profiles.fast.model=edited"], env={})
    assert loaded.config.model == "edited"


def test_override_values_are_toml_or_else_strings() -> None:
    assert parse_override("model=o3").value == "o3"
    assert parse_override('model="o3"').value == "o3"
    assert parse_override("project_doc_max_bytes=1024").value == 1024
    assert parse_override("hide_agent_reasoning=true").value is True
    assert parse_override('notify=["a", "b"]').value == ["a", "b"]
    assert parse_override("sandbox_workspace_write={network_access=true}").value == {
        "network_access": True
    }
    assert parse_override("model_providers.mock.wire_api=chat").path == (
        "model_providers", "mock", "wire_api"
    )
    assert parse_override('projects."/home/dev/x".trust_level=trusted').path == (
        "projects", "/home/dev/x", "trust_level"
    )


def test_dotted_overrides_build_whole_providers(tmp_path: Path) -> None:
    loaded = load_config(
        tmp_path,
        overrides=[
            "model_provider=mine",
            'model_providers.mine.base_url="http://127.0.0.1:8080/v1"',
            "model_providers.mine.wire_api=chat",
            "model_providers.mine.stream_max_retries=0",
        ],
        env={},
    )
    assert loaded.provider.base_url == "http://127.0.0.1:8080/v1"
    assert loaded.provider.wire_api is WireApi.CHAT
    assert loaded.provider.effective_stream_max_retries == 0


def test_a_bad_value_in_the_file_names_file_line_key_and_accepted_values(tmp_path: Path) -> None:
    text = FULL.replace('wire_api = "chat"', 'wire_api = "grpc"')
    home = home_with(tmp_path, text)
    line = text.splitlines().index('wire_api = "grpc"') + 1
    with pytest.raises(ConfigError) as caught:
        load_config(home, env={})
    message = str(caught.value)
    assert message.startswith(f"{home / 'config.toml'}:{line}: ")
    assert "`model_providers.local.wire_api`" in message
    assert '"grpc"' in message
    assert "'responses' or 'chat'" in message
    assert message.endswith(" — correct it in config.toml")
    assert "\n" not in message


def test_a_bad_value_from_an_override_names_the_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(home_with(tmp_path, FULL), overrides=["sandbox_mode=wide-open"], env={})
    message = str(caught.value)
    assert message.startswith("-c sandbox_mode=wide-open: `sandbox_mode`")
    assert "'read-only', 'workspace-write' or 'danger-full-access'" in message
    assert message.endswith(" — correct the -c value")


def test_a_bad_value_from_a_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(home_with(tmp_path, FULL), flags={"model_reasoning_effort": "huge"}, env={})
    message = str(caught.value)
    assert message.startswith("command-line flag for `model_reasoning_effort`: ")
    assert message.endswith(" — pass another value")


def test_a_bad_value_in_a_profile_points_into_the_profile(tmp_path: Path) -> None:
    text = FULL.replace('model_reasoning_effort = "minimal"', 'model_reasoning_effort = "max!"')
    home = home_with(tmp_path, text)
    line = text.splitlines().index('model_reasoning_effort = "max!"') + 1
    with pytest.raises(ConfigError) as caught:
        load_config(home, profile="fast", env={})
    assert str(caught.value).startswith(f"{home / 'config.toml'}:{line}: ")
    assert "`profiles.fast.model_reasoning_effort`" in str(caught.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model_providers.local.request_max_retries=1000",
         "model_providers.local.request_max_retries"),
        ("project_doc_max_bytes=-1", "project_doc_max_bytes"),
        ("hide_agent_reasoning=[1]", "hide_agent_reasoning"),
        ("rollout.fsync=sometimes", "rollout.fsync"),
        ("history.persistence=forever", "history.persistence"),
        # No truthy strings or numbers: a bool is true or false, a number is a number.
        ("rollout.persist_deltas=yes", "rollout.persist_deltas"),
        ('rollout.persist_deltas="true"', "rollout.persist_deltas"),
        ("rollout.persist_deltas=1", "rollout.persist_deltas"),
        ('project_doc_max_bytes="5"', "project_doc_max_bytes"),
        ("project_doc_max_bytes=true", "project_doc_max_bytes"),
        ('model_providers.local.base_url="not a url"', "model_providers.local.base_url"),
        ('model_providers.local.base_url="http://[::1/v1"', "model_providers.local.base_url"),
        ('model_providers.local.base_url="http://127.0.0.1:99999/v1"',
         "model_providers.local.base_url"),
        ('model_providers.local.base_url="file:///v1"', "model_providers.local.base_url"),
    ],
)
def test_known_keys_with_bad_values_are_errors(tmp_path: Path, override: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(home_with(tmp_path, FULL), overrides=[override], env={})
    assert f"`{key}`" in str(caught.value)


def test_a_base_url_that_is_no_url_names_the_line_and_an_example(tmp_path: Path) -> None:
    text = FULL.replace('base_url = "http://127.0.0.1:8000/v1"', 'base_url = "http://[::1/v1"')
    assert text != FULL
    home = home_with(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(home, env={})
    line = key_lines(text)[("model_providers", "local", "base_url")]
    assert str(caught.value) == (
        f'{home / "config.toml"}:{line}: `model_providers.local.base_url` = "http://[::1/v1": '
        'is not a URL (Invalid IPv6 URL) — write it like "http://127.0.0.1:8000/v1"'
    )


def test_openai_base_url_from_the_environment_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(home_with(tmp_path, ""), env={"OPENAI_BASE_URL": "not a url"})
    assert str(caught.value).startswith("OPENAI_BASE_URL='not a url' is not an http:// or")


def test_unknown_keys_are_warnings_with_their_line(tmp_path: Path) -> None:
    text = FULL + '\n[model_providers.extra]\nbase_url = "http://127.0.0.1:1/v1"\ncolour = "red"\n'
    text = "modle = \"typo\"\n" + text
    home = home_with(tmp_path, text)
    loaded = load_config(home, env={})
    path = home / "config.toml"
    colour_line = text.splitlines().index('colour = "red"') + 1
    assert loaded.warnings == (
        f"{path}:1: unknown config key `modle` ignored",
        f"{path}:{colour_line}: unknown config key `model_providers.extra.colour` ignored",
    )


def test_redefining_a_built_in_provider_is_a_warning(tmp_path: Path) -> None:
    home = home_with(tmp_path, '[model_providers.openai]\nbase_url = "http://127.0.0.1:1/v1"\n')
    loaded = load_config(home, env={})
    assert loaded.provider.base_url == "https://api.openai.com/v1"
    assert loaded.warnings == (
        f"{home / 'config.toml'}:1: `model_providers.openai` redefines a built-in provider "
        "and is ignored; give your provider another name",
    )


def test_a_missing_profile_is_an_error(tmp_path: Path) -> None:
    expected = r"config profile `nope` not found .*defined: careful, fast"
    with pytest.raises(ConfigError, match=expected):
        load_config(home_with(tmp_path, FULL), profile="nope", env={})


def test_an_undefined_provider_is_an_error(tmp_path: Path) -> None:
    home = home_with(tmp_path, 'model_provider = "missing"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(home, env={})
    assert str(caught.value).startswith(f"{home / 'config.toml'}:1: model_provider `missing`")
    assert "[model_providers.missing]" in str(caught.value)


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    home = home_with(tmp_path, 'model = "a"\nmodel_provider = \n')
    with pytest.raises(ConfigError, match=r"config\.toml: invalid TOML: .*line 2.* — fix the file"):
        load_config(home, env={})


def test_an_override_without_equals_is_an_error() -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("model")


def test_key_lines_follow_tables_and_quoted_keys() -> None:
    lines = key_lines(FULL + '[projects."/a.b"]\ntrust_level = "trusted"\n')
    assert lines[("model",)] == 1
    assert lines[("model_providers", "local", "wire_api")] == 12
    assert lines[("projects", "/a.b", "trust_level")] == len(FULL.splitlines()) + 2
