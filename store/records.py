"""Typed records built from database rows by their declared field types.

Each field comes from the column of its name, converted as its type says: `bool` from SQL's 0/1,
a vocabulary (`StrEnum`) from its code (None stays None when the field is optional), and a `list`
or `dict` field from the JSON of the column `<name>_json`. What a row cannot say by itself (a
joined table, a separator-joined column) the caller passes as a keyword.

One builder instead of one hand-written constructor per entity: adding a column to a record is
adding the field, and a field the row lacks fails loudly at the first read.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

R = TypeVar("R")
_Plan = tuple[tuple[str, str, Callable[[Any], Any] | None], ...]


def _optional_base(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(typing.get_args(tp))
    return tp, False


def _converter(tp: Any) -> tuple[str, Callable[[Any], Any] | None]:
    """(column suffix, conversion) for a field of type ``tp``."""
    base, optional = _optional_base(tp)
    if base is bool:
        return "", bool
    if isinstance(base, type) and issubclass(base, Enum):
        return "", (lambda v, e=base: None if v is None else e(v)) if optional else base
    if typing.get_origin(base) in (list, dict) or base in (list, dict):
        return "_json", json.loads
    return "", None


@cache
def _plan(kind: type) -> _Plan:
    hints = typing.get_type_hints(kind, include_extras=True)
    if dataclasses.is_dataclass(kind):
        names = [f.name for f in dataclasses.fields(kind)]
    else:  # a TypedDict: its keys but the NotRequired ones, which the caller adds
        # (read from the hints: with postponed annotations __required_keys__ lists them all)
        names = [k for k, tp in hints.items() if typing.get_origin(tp) is not typing.NotRequired]
    return tuple((name, name + suffix, conv) for name in names for suffix, conv in [_converter(hints[name])])


def record(kind: Callable[..., R], row: Mapping[str, Any], **given: Any) -> R:
    """``kind`` (a dataclass or TypedDict) from ``row``; ``given`` fields are taken as they are."""
    values = dict(given)
    for name, column, conv in _plan(kind):  # type: ignore[arg-type]
        if name not in values:
            value = row[column]
            values[name] = conv(value) if conv is not None else value
    return kind(**values)
