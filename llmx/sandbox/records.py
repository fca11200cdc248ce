"""``record``: value classes for the sandbox's start-up path, cheap to define.

``llmx sandbox linux -- CMD`` must start about as fast as Codex's native binary, and
``dataclasses`` was its largest cost: importing it pulls in ``inspect`` (with ``ast``,
``dis`` and ``tokenize``), and every decorated class compiles generated source for six
methods (together about 20 ms of a 55 ms start here). A record class gets the same
behaviour the sandbox relied on from ``@dataclass(frozen=True)`` from methods defined
once in this module:

- construction by position or keyword, defaults, ``field(default_factory=...)``, and
  dataclass's ``TypeError`` for a missing, repeated or unknown argument;
- equality between instances of the same class over the compared fields
  (``field(compare=False)`` leaves one out), and hashing of frozen records over them;
- a dataclass-style ``repr`` and ``__match_args__``;
- immutability (``FrozenRecordError``), or with ``@mutable_record`` fields that may be
  reassigned and no hash, as a plain ``@dataclass``.

Type checkers see ``record`` as a dataclass transform, so constructors and frozen fields
are checked as for dataclasses. Not supported (and refused where it would go unnoticed):
``__post_init__``, ``ClassVar`` fields, ordering, ``dataclasses.fields``/``replace``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: ``typing`` is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    RecordT = TypeVar("RecordT")
else:

    def dataclass_transform(**_options):
        return lambda function: function


class FrozenRecordError(AttributeError):
    """An assignment to (or deletion of) an attribute of a frozen record."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FieldSpec:
    """What ``field(...)`` returns: the options of one field, read by ``record``."""

    __slots__ = ("compare", "default", "default_factory")

    def __init__(
        self, default: Any, default_factory: Callable[[], Any] | None, compare: bool
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | None = None,
    compare: bool = True,
) -> Any:
    """A field with a default, a default factory, or left out of ``==`` and ``hash``."""
    if default is not MISSING and default_factory is not None:
        raise ValueError("a field cannot have both a default and a default_factory")
    return FieldSpec(default, default_factory, compare)


class _Field:
    __slots__ = ("compare", "default", "factory", "name")

    def __init__(
        self, name: str, default: Any, factory: Callable[[], Any] | None, compare: bool
    ) -> None:
        self.name = name
        self.default = default
        self.factory = factory
        self.compare = compare


def _collect_fields(cls: type) -> tuple[_Field, ...]:
    fields: dict[str, _Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for inherited in base.__dict__.get("__record_fields__", ()):
            fields[inherited.name] = inherited
    # The class's own annotations (``inspect.get_annotations`` would import ``inspect``).
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in own.items():
        if "ClassVar" in str(annotation):
            raise TypeError(f"{cls.__name__}.{name}: ClassVar fields are not supported")
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, FieldSpec):
            spec = _Field(name, value.default, value.default_factory, value.compare)
        else:
            spec = _Field(name, value, None, True)
        if spec.default is not MISSING and type(spec.default).__hash__ is None:
            # As dataclasses: one list or dict shared by every instance is a bug.
            raise ValueError(
                f"{cls.__name__}.{name}: mutable default {type(spec.default).__name__}; "
                "use field(default_factory=...)"
            )
        # The class attribute holds the default, if any, as with dataclasses.
        if spec.default is MISSING:
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, spec.default)
        fields[name] = spec
    seen_default = False
    for spec in fields.values():
        if spec.default is not MISSING or spec.factory is not None:
            seen_default = True
        elif seen_default:
            raise TypeError(f"{cls.__name__}: non-default field {spec.name!r} follows a default")
    return tuple(fields.values())


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    fields: tuple[_Field, ...] = cls.__record_fields__
    if len(args) > len(fields):
        raise TypeError(
            f"{cls.__name__}() takes {len(fields)} positional arguments "
            f"but {len(args)} were given"
        )
    assign = object.__setattr__
    for index, spec in enumerate(fields):
        name = spec.name
        if index < len(args):
            if name in kwargs:
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            value = args[index]
        elif name in kwargs:
            value = kwargs.pop(name)
        elif spec.default is not MISSING:
            value = spec.default
        elif spec.factory is not None:
            value = spec.factory()
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
        assign(self, name, value)
    if kwargs:
        unknown = next(iter(kwargs))
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {unknown!r}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.__record_fields__)
    return f"{type(self).__qualname__}({shown})"


def _compared(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, f.name) for f in self.__record_fields__ if f.compare)


def _eq(self: Any, other: object) -> object:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _hash(self: Any) -> int:
    return hash(_compared(self))


def _frozen_setattr(self: Any, name: str, value: object) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")


def _make_record(cls: type[RecordT], *, frozen: bool) -> type[RecordT]:
    if "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: __post_init__ is not supported by record")
    fields = _collect_fields(cls)
    setattr(cls, "__record_fields__", fields)  # noqa: B010 (mypy does not know the name)
    setattr(cls, "__match_args__", tuple(f.name for f in fields))  # noqa: B010
    methods: dict[str, Any] = {"__init__": _init, "__repr__": _repr, "__eq__": _eq}
    if frozen:
        methods.update(__hash__=_hash, __setattr__=_frozen_setattr, __delattr__=_frozen_delattr)
    else:
        methods["__hash__"] = None  # mutable and compared by value: unhashable
    for name, method in methods.items():
        # A method the class defines itself is kept, as dataclasses keep it; a ``__hash__``
        # of None is Python's own doing for a class that defines ``__eq__``, not the class's.
        if cls.__dict__.get(name) is None:
            setattr(cls, name, method)
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[RecordT]) -> type[RecordT]:
    """Make ``cls`` a frozen record (``@dataclass(frozen=True)``, cheaply)."""
    return _make_record(cls, frozen=True)


@dataclass_transform(field_specifiers=(field,))
def mutable_record(cls: type[RecordT]) -> type[RecordT]:
    """Make ``cls`` a record whose fields may be reassigned (``@dataclass``, cheaply)."""
    return _make_record(cls, frozen=False)
