"""``Value``: comparison, hashing and ``repr`` by field for the sandbox's small classes.

A value class names its fields in ``__slots__`` and sets them in an ``__init__`` written
out; this base compares and hashes instances of the same class by those fields and shows
them in its ``repr``. A class that leaves a field out of the comparison says so in its own
``_compared``. Instances are not changed after ``__init__`` (nothing enforces it).

Not ``dataclasses``: on the path of ``llmx sandbox linux -- CMD`` importing it (it brings
``inspect``, ``ast``, ``dis`` and ``tokenize``) and generating the methods of some thirty
classes doubled the command's start-up (see docs/performance.md).
"""

from __future__ import annotations


class Value:
    __slots__: tuple[str, ...] = ()

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Value)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"
