"""The ward's areas as alerts name them: the app's areas (`AREAS_CSV`, read once when it starts)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import has_app_context

from alerts.errors import InvalidAlert
from common.areas import Areas
from common.runtime import services


def ward_areas() -> Areas:
    """The app's areas: alerts are drafted, shown and sent only inside the app (console, commands, worker)."""
    return services().areas


def label_names() -> dict[str, str]:
    """{code: name} for an alert's labels. A script reading delivery progress without an app
    gets no names: the codes stand for themselves (never the sample file's names)."""
    return ward_areas().names() if has_app_context() else {}


def resolve_areas(values: Iterable[str], areas: Areas | None = None) -> list[str]:
    """Turn codes or names (or kana) into area codes; unknown ones raise InvalidAlert."""
    codes, unknown = (areas if areas is not None else ward_areas()).resolve(values)
    if unknown:
        raise InvalidAlert([f"地区「{v}」は areas.csv にありません" for v in unknown])
    return codes
