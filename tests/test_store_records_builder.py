"""store.records.record: a typed record from a row by its fields' declared types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pytest

from store.records import record
from store.vocab import ShelterStatus


@dataclass(frozen=True)
class Thing:
    id: int
    flag: bool
    status: ShelterStatus
    previous: ShelterStatus | None
    tags: list[str]
    note: str | None


class ThingDict(TypedDict):
    id: int
    meta: dict[str, Any]
    extra: NotRequired[list[int]]


ROW = {"id": 7, "flag": 1, "status": "full", "previous": None, "tags_json": '["a", "b"]', "note": None}


def test_columns_are_converted_by_the_declared_types():
    thing = record(Thing, ROW)
    assert thing == Thing(7, True, ShelterStatus.FULL, None, ["a", "b"], None)
    assert thing.flag is True and type(thing.status) is ShelterStatus
    assert record(Thing, {**ROW, "previous": "open"}).previous is ShelterStatus.OPEN


def test_given_fields_are_taken_as_they_are_and_a_missing_column_fails():
    assert record(Thing, ROW, tags=("x",)).tags == ("x",)
    with pytest.raises(KeyError):
        record(Thing, {k: v for k, v in ROW.items() if k != "note"})
    with pytest.raises(ValueError):
        record(Thing, {**ROW, "status": "unknown"})


def test_typed_dicts_leave_their_not_required_keys_to_the_caller():
    assert record(ThingDict, {"id": 1, "meta_json": '{"k": 1}'}) == {"id": 1, "meta": {"k": 1}}
    assert record(ThingDict, {"id": 1, "meta_json": "{}"}, extra=[2])["extra"] == [2]
