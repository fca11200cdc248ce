"""``llmx.sandbox.records`` behaves like the ``dataclasses`` it replaces on the sandbox path.

Each behaviour is checked against a real ``@dataclass`` twin where dataclasses define it.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot
from llmx.sandbox.records import FrozenRecordError, field, mutable_record, record


@record
class Point:
    x: int
    y: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    note: str = field(default="", compare=False)

    @property
    def total(self) -> int:
        return self.x + self.y


@dataclasses.dataclass(frozen=True)
class PointTwin:
    x: int
    y: int = 0
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    note: str = dataclasses.field(default="", compare=False)


@mutable_record
class Counter:
    name: str
    seen: list[int] = field(default_factory=list)


def test_construction_matches_dataclasses() -> None:
    assert Point(1).y == 0
    assert Point(1, 2).total == 3
    assert Point(x=1, y=5, note="n").note == "n"
    assert Point(1).tags == {}
    assert Point(1).tags is not Point(1).tags  # one dict per instance
    assert Point.__match_args__ == PointTwin.__match_args__
    assert Point.y == PointTwin.y == 0  # the default stays a class attribute
    assert not hasattr(Point, "tags")
    assert not hasattr(PointTwin, "tags")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required argument: 'x'"),
        ((1, 2, {}, "", 5), {}, "takes 4 positional arguments but 5 were given"),
        ((1,), {"x": 2}, "got multiple values for argument 'x'"),
        ((1,), {"z": 2}, "got an unexpected keyword argument 'z'"),
    ],
)
def test_bad_arguments_raise_type_error(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PointTwin(*args, **kwargs)  # type: ignore[arg-type]


def test_equality_hash_and_repr_match_dataclasses() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, note="a") == Point(1, note="b")  # compare=False
    with pytest.raises(TypeError):
        hash(Point(1, 2))  # a dict field makes it unhashable, as with dataclasses
    with pytest.raises(TypeError):
        hash(PointTwin(1, 2))
    root = WritableRoot(Path("/w"), (Path("/w/.git"),))
    assert hash(root) == hash(WritableRoot(Path("/w"), (Path("/w/.git"),)))
    assert {root, WritableRoot(Path("/w"), (Path("/w/.git"),))} == {root}
    assert Point(1) != PointTwin(1)  # different classes never compare equal
    assert repr(Point(1, 2, {"a": "b"}, "n")) == repr(PointTwin(1, 2, {"a": "b"}, "n")).replace(
        "PointTwin", "Point"
    )


def test_frozen_and_mutable() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x  # type: ignore[misc]
    counter = Counter("c")
    counter.seen.append(1)
    counter.name = "d"
    assert counter == Counter("d", [1])
    with pytest.raises(TypeError):
        hash(counter)


def test_copy_and_pickle_keep_the_value() -> None:
    plan = ConfinementPlan(
        readable_roots=None, network=NetworkAccess.ENABLED, env={"PATH": "/usr/bin"}
    )
    assert copy.copy(plan) == plan
    assert copy.deepcopy(plan) == plan
    assert pickle.loads(pickle.dumps(plan)) == plan


def test_definitions_dataclasses_would_refuse_are_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Shared:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default field 'b' follows a default"):

        @record
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(TypeError, match="__post_init__"):

        @record
        class Post:
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(ValueError, match="both a default and a default_factory"):
        field(default=1, default_factory=int)


def test_inherited_fields_come_first() -> None:
    @record
    class Base:
        a: int

    @record
    class Child(Base):
        b: int = 2

    assert Child(1) == Child(a=1, b=2)
    assert Child.__match_args__ == ("a", "b")


def test_sandbox_start_up_imports_no_dataclasses() -> None:
    code = (
        "import sys\n"
        "import llmx.cli.sandbox_run, llmx.sandbox.resolve, llmx.sandbox.linux.blocking\n"
        "print('dataclasses' in sys.modules, 'inspect' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        timeout=WAIT_SECONDS,
    ).stdout
    assert out.split() == ["False", "False"]


def test_methods_the_class_defines_are_kept() -> None:
    @record
    class Named:
        name: str
        note: str = ""

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __hash__(self) -> int:
            return hash(self.name)

    assert repr(Named("a")) == "<a>"
    assert hash(Named("a", "x")) == hash("a")
    assert Named("a", "x") != Named("a", "y")  # the generated __eq__ is still there
