"""The configuration: ``$LLMX_HOME/config.toml`` in Codex's format, profiles, ``-c`` overrides.

- :mod:`~llmx.runtime.config.tables`: the configuration model (msgspec Structs, Codex's
  key names).
- :mod:`~llmx.runtime.config.types`: its enums, defaults and error type, for modules that
  need only those.
- :mod:`~llmx.runtime.config.load`: loading and validating the effective configuration.
- :mod:`~llmx.runtime.config.loaded`: ``LoadedConfig``, a loaded configuration with
  where it came from.
- :mod:`~llmx.runtime.config.providers`: the built-in model providers.
- :mod:`~llmx.runtime.config.toml`: ``-c key=value`` overrides and key line numbers.

Nothing is imported here: each user names the module it needs.
"""
