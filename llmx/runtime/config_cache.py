"""A validated configuration, kept so the next start need not import pydantic.

Validating ``config.toml`` with the pydantic models costs about 70 ms, mostly importing
pydantic, on every start of a short command. After a full load we keep the validated,
merged configuration as plain JSON in ``$LLMX_HOME/config.cache.json`` (0600). The next
load with exactly the same inputs (the bytes of ``config.toml``, the ``-c`` overrides,
the profile, the flags, ``OPENAI_BASE_URL``, the llmx version and the config modules)
builds the configuration from that JSON with msgspec instead.

The pydantic models stay the one definition of what is valid: the cache holds their
output, and the *shapes* of the Structs it is read into (field names and types) are
derived from those models when the cache is written, never written out by hand. Any
mismatch, a corrupt or foreign file, or a value of a type we do not mirror means a miss,
and a miss is a full validation, so a cached configuration never hides an error: an
edit of ``config.toml`` changes its bytes, and changed bytes are validated again.
"""

from __future__ import annotations

import enum
import os
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import msgspec

from llmx import __version__
from llmx.events.home import FILE_MODE, config_path
from llmx.runtime import config_types
from llmx.runtime.config_loaded import LoadedConfig

if TYPE_CHECKING:
    from pydantic import BaseModel

    from llmx.runtime.config import Config, ModelProviderInfo

CACHE_FILE_NAME = "config.cache.json"
_FORMAT = 1
# The modules whose code decides what a configuration means; a change to any of them
# (an upgrade, an edit) invalidates every cached configuration.
_SCHEMA_MODULES = ("config.py", "config_load.py", "config_loaded.py", "config_providers.py",
                   "config_types.py", "config_cache.py", "config_toml.py")

# A field's type in a shape: "str" | "int" | "bool" | "float" | "any", or
# ["enum", NAME] | ["model", NAME] | ["list", T] | ["dict", T] | ["optional", T].
TypeSpec = str | list[Any]
_SCALARS: dict[str, Any] = {"str": str, "int": int, "bool": bool, "float": float, "any": Any}


class _Entry(msgspec.Struct):
    key: dict[str, Any]
    # Class name -> {"fields": {field: TypeSpec}, "mixins": [names in config_types]}.
    shapes: dict[str, dict[str, Any]]
    config: dict[str, Any]
    provider: dict[str, Any]
    provider_id: str
    profile: str | None
    warnings: list[str]
    document: dict[str, Any]
    format: int = _FORMAT


class _Unsupported(Exception):
    """A type or value the cache does not mirror: the configuration is not cached."""


def cache_path(home: Path) -> Path:
    return home / CACHE_FILE_NAME


def cache_key(
    home: Path, overrides: Sequence[str], profile: str | None, flags: Mapping[str, Any],
    env: Mapping[str, str],
) -> dict[str, Any] | None:
    """Everything the loaded configuration depends on; None if the file is unreadable
    (the full load then reports it)."""
    try:
        text = config_path(home).read_bytes().decode("utf-8")
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError):
        return None
    here = Path(__file__).parent
    schema = []
    for name in _SCHEMA_MODULES:
        stat = os.stat(here / name)
        schema.append([name, stat.st_size, stat.st_mtime_ns])
    return {
        "version": __version__,
        "schema": schema,
        "config_toml": text,
        "overrides": list(overrides),
        "profile": profile,
        "flags": {k: v for k, v in sorted(flags.items()) if v is not None},
        "openai_base_url": env.get("OPENAI_BASE_URL"),
    }


def read_cached(home: Path, key: dict[str, Any]) -> LoadedConfig | None:
    """The cached configuration for ``key``, or None (no file, another key, any doubt)."""
    try:
        data = cache_path(home).read_bytes()
        entry = msgspec.json.decode(data, type=_Entry)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if entry.format != _FORMAT or entry.key != key:
        return None
    try:
        structs = _Structs(entry.shapes)
        config = msgspec.convert(entry.config, structs.build("Config"))
        provider = msgspec.convert(entry.provider, structs.build("ModelProviderInfo"))
    except (_Unsupported, msgspec.ValidationError, TypeError, KeyError, ValueError):
        return None
    return LoadedConfig(
        # The Structs have the pydantic models' fields, types and properties.
        config=cast("Config", config),
        provider_id=entry.provider_id,
        provider=cast("ModelProviderInfo", provider),
        profile=entry.profile,
        path=config_path(home),
        warnings=tuple(entry.warnings),
        document=entry.document,
    )


def write_cache(home: Path, key: dict[str, Any], loaded: LoadedConfig) -> bool:
    """Keep ``loaded`` for ``key`` (atomically, 0600); False when it cannot be cached."""
    from llmx.runtime.config import Config, ModelProviderInfo

    try:
        shapes: dict[str, dict[str, Any]] = {}
        _shape_of(Config, shapes)
        _shape_of(ModelProviderInfo, shapes)
        document = dict(loaded.document)
        # TOML dates and times (and NaN) do not survive JSON: such a config is not cached.
        if msgspec.json.decode(msgspec.json.encode(document)) != document:
            raise _Unsupported("document")
        entry = _Entry(
            key=key, shapes=shapes,
            config=loaded.config.model_dump(mode="json"),
            provider=loaded.provider.model_dump(mode="json"),
            provider_id=loaded.provider_id, profile=loaded.profile,
            warnings=list(loaded.warnings), document=document,
        )
        data = msgspec.json.encode(entry)
    except (_Unsupported, TypeError, ValueError, msgspec.EncodeError):
        return False
    path = cache_path(home)
    if not path.parent.is_dir():
        return False  # a home that does not exist yet is not created for a cache
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


# -- shapes: derived from the pydantic models when writing -------------------------------


def _shape_of(model: type[BaseModel], shapes: dict[str, dict[str, Any]]) -> None:
    name = model.__name__
    if name in shapes:
        return
    shape: dict[str, Any] = {"fields": {}, "mixins": []}
    shapes[name] = shape
    shape["fields"] = {
        field: _spec_of(info.annotation, shapes) for field, info in model.model_fields.items()
    }
    shape["mixins"] = [
        base.__name__ for base in model.__mro__
        if base.__module__ == config_types.__name__ and base is not object
    ]


def _spec_of(annotation: object, shapes: dict[str, dict[str, Any]]) -> TypeSpec:
    from pydantic import BaseModel

    if annotation is Any:
        return "any"
    if typing.get_origin(annotation) is typing.Annotated:
        # StrictBool, StrictInt: validation metadata the checked values no longer need.
        return _spec_of(typing.get_args(annotation)[0], shapes)
    for name, scalar in _SCALARS.items():
        if annotation is scalar:
            return name
    if isinstance(annotation, type):
        type_name = annotation.__name__
        if issubclass(annotation, enum.Enum):
            # Only enums the reading side can find without pydantic.
            if getattr(config_types, type_name, None) is not annotation:
                raise _Unsupported(type_name)
            return ["enum", type_name]
        if issubclass(annotation, BaseModel):
            _shape_of(annotation, shapes)
            return ["model", type_name]
        raise _Unsupported(type_name)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return ["list", _spec_of(args[0], shapes)]
    if origin is dict and len(args) == 2 and args[0] is str:
        return ["dict", _spec_of(args[1], shapes)]
    others = [arg for arg in args if arg is not type(None)]
    if origin is not None and len(others) == 1 and len(args) == 2:
        return ["optional", _spec_of(others[0], shapes)]
    raise _Unsupported(repr(annotation))


# -- Structs: built from the shapes when reading -----------------------------------------


class _Structs:
    def __init__(self, shapes: dict[str, dict[str, Any]]) -> None:
        self._shapes = shapes
        self._built: dict[str, type[msgspec.Struct]] = {}

    def build(self, name: str) -> type[msgspec.Struct]:
        built = self._built.get(name)
        if built is not None:
            return built
        shape = self._shapes[name]
        namespace: dict[str, Any] = {}
        for mixin in shape["mixins"]:
            source = getattr(config_types, mixin)
            namespace.update(
                (attr, value) for attr, value in vars(source).items()
                if isinstance(value, property)
            )
        fields = [(field, self._type(spec)) for field, spec in shape["fields"].items()]
        struct = msgspec.defstruct(name, fields, namespace=namespace, frozen=True)
        self._built[name] = struct
        return struct

    def _type(self, spec: TypeSpec) -> Any:
        if isinstance(spec, str):
            if spec not in _SCALARS:
                raise _Unsupported(spec)
            return _SCALARS[spec]
        kind, inner = spec
        if kind == "enum":
            value = getattr(config_types, str(inner), None)
            if not (isinstance(value, type) and issubclass(value, enum.Enum)):
                raise _Unsupported(str(inner))
            return value
        if kind == "model":
            return self.build(str(inner))
        if kind == "list":
            return list[self._type(inner)]  # type: ignore[misc]  # built at run time
        if kind == "dict":
            return dict[str, self._type(inner)]  # type: ignore[misc]  # built at run time
        if kind == "optional":
            return typing.Optional[self._type(inner)]  # noqa: UP045  # a run-time type object
        raise _Unsupported(str(kind))


def load_config_cached(
    home: Path,
    *,
    overrides: Sequence[str] = (),
    profile: str | None = None,
    flags: Mapping[str, Any] | None = None,
    write: bool = True,
) -> LoadedConfig:
    """:func:`llmx.runtime.config_load.load_config`, from the cache when its inputs are
    unchanged; ``write=False`` (an ephemeral run) reads the cache but never writes it."""
    set_flags = dict(flags or {})
    key = cache_key(home, overrides, profile, set_flags, os.environ)
    if key is not None:
        cached = read_cached(home, key)
        if cached is not None:
            return cached
    from llmx.runtime.config_load import load_config

    loaded = load_config(home, overrides=overrides, profile=profile, flags=set_flags)
    if key is not None and write:
        write_cache(home, key, loaded)
    return loaded
