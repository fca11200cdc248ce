"""The forms MCP servers ask users to fill in (an elicitation's ``requestedSchema``).

A form is a flat object schema whose properties are primitives: a string (possibly an
enum, plain or titled), a number or integer, a boolean, or an array of enum strings (a
multiple choice). This module reads such a schema into fields, turns what a person typed
into a value of the field's type, and checks a whole answer against the schema, so every
frontend (the TUI asks field by field, the app-server's client sends the whole answer)
holds answers to the same rules before they reach the server.

Errors are one line naming the field and what is expected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_TRUE = ("y", "yes", "true", "1")
_FALSE = ("n", "no", "false", "0")
# Enough of each format to refuse an answer that is plainly not one.
_FORMATS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "uri": re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
                            r"([Zz]|[+-]\d{2}:?\d{2})?$"),
}


class FormError(ValueError):
    """A schema llmx cannot ask, or an answer the schema refuses; ``str()`` is one line."""


@dataclass(frozen=True)
class FormField:
    name: str
    # string | number | integer | boolean | enum | multi (an array of enum strings).
    kind: str
    title: str
    description: str | None = None
    required: bool = False
    # The values of an enum (or a multiple choice) and the label of each.
    options: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None

    def hint(self) -> str:
        """What to type, in a few words."""
        if self.kind == "boolean":
            return "yes or no"
        if self.kind in ("enum", "multi"):
            shown = [f"{value} ({label})" if label != value else value
                     for value, label in zip(self.options, self.labels, strict=True)]
            many = "one or more of, comma-separated" if self.kind == "multi" else "one of"
            return f"{many}: {', '.join(shown)}"
        if self.kind in ("number", "integer"):
            bounds = _bounds(self.minimum, self.maximum)
            return f"{'an integer' if self.kind == 'integer' else 'a number'}{bounds}"
        return f"text{f' ({self.format})' if self.format else ''}"


def has_fields(schema: Any) -> bool:
    """Whether ``schema`` asks for anything beyond yes or no."""
    return isinstance(schema, dict) and bool(schema.get("properties"))


def form_fields(schema: Any) -> list[FormField]:
    """The fields of ``schema`` in its order; :class:`FormError` for one llmx cannot ask."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise FormError("the requested schema is not an object schema")
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        raise FormError("the requested schema's properties are not an object")
    required = schema.get("required") or []
    return [_field(str(name), spec, name in required) for name, spec in properties.items()]


def _field(name: str, spec: Any, required: bool) -> FormField:
    if not isinstance(spec, dict):
        raise FormError(f"field `{name}`: its schema is not an object")
    kind = spec.get("type")
    title = str(spec.get("title") or name)
    description = spec.get("description") if isinstance(spec.get("description"), str) else None
    common: dict[str, Any] = {"name": name, "title": title, "description": description,
                              "required": required, "default": spec.get("default")}
    if kind == "string" and ("enum" in spec or "oneOf" in spec):
        options, labels = _choices(name, spec)
        return FormField(kind="enum", options=options, labels=labels, **common)
    if kind == "array":
        items = spec.get("items")
        if not isinstance(items, dict):
            raise FormError(f"field `{name}`: a multiple choice needs `items`")
        options, labels = _choices(name, items)
        return FormField(kind="multi", options=options, labels=labels, **common)
    if kind == "string":
        fmt = spec.get("format")
        return FormField(kind="string", min_length=_int(spec.get("minLength")),
                         max_length=_int(spec.get("maxLength")),
                         format=fmt if isinstance(fmt, str) else None, **common)
    if kind in ("number", "integer"):
        return FormField(kind=str(kind), minimum=_num(spec.get("minimum")),
                         maximum=_num(spec.get("maximum")), **common)
    if kind == "boolean":
        return FormField(kind="boolean", **common)
    raise FormError(f"field `{name}`: type {kind!r} cannot be asked "
                    "(a form field is a string, number, integer, boolean or enum)")


def _choices(name: str, spec: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    titled = spec.get("oneOf") or spec.get("anyOf")
    if isinstance(titled, list):
        options = tuple(str(entry.get("const")) for entry in titled if isinstance(entry, dict))
        labels = tuple(str(entry.get("title") or entry.get("const")) for entry in titled
                       if isinstance(entry, dict))
    else:
        values = spec.get("enum")
        if not isinstance(values, list) or not values:
            raise FormError(f"field `{name}`: an enum needs its values")
        options = tuple(str(value) for value in values)
        names = spec.get("enumNames")
        labels = (tuple(str(label) for label in names)
                  if isinstance(names, list) and len(names) == len(options) else options)
    if not options:
        raise FormError(f"field `{name}`: an enum needs its values")
    return options, labels


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    if high is not None:
        return f" of at most {high:g}"
    return ""


def parse_answer(field: FormField, text: str) -> Any:
    """The value of what a person typed for ``field``: None for an empty answer to an
    optional field (left out), else a value :func:`check_value` accepts; :class:`FormError`
    otherwise."""
    text = text.strip()
    if not text:
        if field.required:
            raise FormError(f"field `{field.name}` is required")
        return None
    value: Any
    if field.kind == "boolean":
        lowered = text.lower()
        if lowered not in _TRUE + _FALSE:
            raise FormError(f"field `{field.name}`: answer yes or no")
        value = lowered in _TRUE
    elif field.kind == "integer":
        try:
            value = int(text)
        except ValueError:
            raise FormError(f"field `{field.name}`: {text!r} is not an integer") from None
    elif field.kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise FormError(f"field `{field.name}`: {text!r} is not a number") from None
        if value.is_integer() and "." not in text and "e" not in text.lower():
            value = int(value)
    elif field.kind == "enum":
        value = _option(field, text)
    elif field.kind == "multi":
        value = [_option(field, part.strip()) for part in text.split(",") if part.strip()]
    else:
        value = text
    problem = check_value(field, value)
    if problem is not None:
        raise FormError(problem)
    return value


def _option(field: FormField, text: str) -> str:
    """An option named by its value, its label, or its number in the list (1-based)."""
    for value, label in zip(field.options, field.labels, strict=True):
        if text in (value, label) or text.lower() in (value.lower(), label.lower()):
            return value
    if text.isdigit() and 1 <= int(text) <= len(field.options):
        return field.options[int(text) - 1]
    raise FormError(f"field `{field.name}`: {text!r} is not {field.hint()}")


def check_value(field: FormField, value: Any) -> str | None:
    """Why ``value`` does not fit ``field``, or None when it does."""
    name = f"field `{field.name}`"
    if field.kind == "boolean":
        return None if isinstance(value, bool) else f"{name}: expected true or false"
    if field.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name}: expected {'an integer' if field.kind == 'integer' else 'a number'}"
        if field.kind == "integer" and not (isinstance(value, int) or value.is_integer()):
            return f"{name}: expected an integer"
        if not math.isfinite(value):
            return f"{name}: expected a finite number"
        if field.minimum is not None and value < field.minimum:
            return f"{name}: {value:g} is below the minimum {field.minimum:g}"
        if field.maximum is not None and value > field.maximum:
            return f"{name}: {value:g} is above the maximum {field.maximum:g}"
        return None
    if field.kind == "enum":
        if value not in field.options:
            return f"{name}: expected {field.hint()}"
        return None
    if field.kind == "multi":
        if not isinstance(value, list) or any(item not in field.options for item in value):
            return f"{name}: expected a list of values among {', '.join(field.options)}"
        return None
    if not isinstance(value, str):
        return f"{name}: expected text"
    if field.min_length is not None and len(value) < field.min_length:
        return f"{name}: at least {field.min_length} characters"
    if field.max_length is not None and len(value) > field.max_length:
        return f"{name}: at most {field.max_length} characters"
    pattern = _FORMATS.get(field.format or "")
    if pattern is not None and not pattern.match(value):
        return f"{name}: {value!r} is not a valid {field.format}"
    return None


def check_content(schema: Any, content: Any) -> str | None:
    """Why ``content`` is not an answer to the form ``schema`` (one line), or None when
    it is: an object with every required field, no field the form does not have, and each
    value of its field's type."""
    try:
        fields = form_fields(schema)
    except FormError as exc:
        return str(exc)
    if not isinstance(content, dict):
        return "the answer's content must be an object of the form's fields"
    known = {field.name: field for field in fields}
    for name in content:
        if name not in known:
            return f"field `{name}` is not in the form"
    for field in fields:
        if field.name not in content or content[field.name] is None:
            if field.required:
                return f"field `{field.name}` is required"
            continue
        problem = check_value(field, content[field.name])
        if problem is not None:
            return problem
    return None
