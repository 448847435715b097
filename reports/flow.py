"""The report dialogue as a pure state machine: what is known, what to ask next.

A `Draft` holds what the resident has given so far; every function here returns a new
draft (or raises `FlowError`). Photos and place can come in either order; the bot asks
for the first thing missing: photo → place → kind → description → confirmation.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MAX_PHOTOS = 3
MAX_DESCRIPTION = 200
DRAFT_MINUTES = 30

# Steps (what the bot is waiting for).
PHOTO, PLACE, FAR, KIND, DESCRIPTION, CONFIRM = "photo", "place", "far", "kind", "description", "confirm"


class FlowError(ValueError):
    """Input the current step cannot take (`key` is the catalog key of the explanation)."""

    def __init__(self, key: str, **fields: Any):
        super().__init__(key)
        self.key = key
        self.fields = fields


@dataclass(frozen=True)
class StoredPhoto:
    full: str
    thumb: str
    width: int
    height: int


@dataclass(frozen=True)
class Draft:
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(6))
    photos: tuple[StoredPhoto, ...] = ()
    photo_skipped: bool = False
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    area_code: str | None = None
    far: bool = False  # the place looks far outside the ward: waiting for "yes, this place"
    outside_confirmed: bool = False
    kind: str | None = None
    description: str | None = None

    @property
    def has_place(self) -> bool:
        return (self.lat is not None and self.lon is not None) or bool(self.address)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        photos = tuple(StoredPhoto(**p) for p in data.get("photos") or ())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "photos"}
        return cls(photos=photos, **known)


def next_step(d: Draft) -> str:
    if d.far:
        return FAR
    if not d.photos and not d.photo_skipped:
        return PHOTO
    if not d.has_place:
        return PLACE
    if not d.kind:
        return KIND
    if d.description is None:
        return DESCRIPTION
    return CONFIRM


def add_photo(d: Draft, photo: StoredPhoto) -> Draft:
    if len(d.photos) >= MAX_PHOTOS:
        raise FlowError("report_photo_limit", n=MAX_PHOTOS)
    return replace(d, photos=(*d.photos, photo), photo_skipped=False)


def skip_photo(d: Draft) -> Draft:
    return replace(d, photo_skipped=True)


def set_location(
    d: Draft,
    lat: float,
    lon: float,
    address: str | None,
    area_code: str | None,
    distance_m: float,
    outside_m: float,
) -> Draft:
    """A location from LINE's location action; far from every area of the ward → ask to confirm."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise FlowError("report_place_invalid")
    far = distance_m > outside_m
    return replace(
        d,
        lat=lat,
        lon=lon,
        address=(address or None) and address[:200],
        area_code=None if far else area_code,
        far=far,
        outside_confirmed=False,
    )


def confirm_outside(d: Draft) -> Draft:
    return replace(d, far=False, outside_confirmed=True)


def retry_place(d: Draft) -> Draft:
    return replace(d, far=False, lat=None, lon=None, address=None, area_code=None, outside_confirmed=False)


def set_address(d: Draft, text: str, area_names: dict[str, str]) -> Draft:
    """A typed address; the area is the longest area name it contains (if any)."""
    text = " ".join(text.split())
    if len(text) < 2:
        raise FlowError("report_place_invalid")
    if len(text) > 200:
        raise FlowError("report_address_too_long", n=200)
    area = None
    for code, name in sorted(area_names.items(), key=lambda kv: -len(kv[1])):
        if name and name in text:
            area = code
            break
    return replace(d, address=text, lat=None, lon=None, area_code=area, far=False)


def set_kind(d: Draft, code: str, known: set[str]) -> Draft:
    if code not in known:
        raise FlowError("report_kind_unknown")
    return replace(d, kind=code)


def set_description(d: Draft, text: str | None) -> Draft:
    """Free text (None: the resident chose 「説明なし」)."""
    if text is None:
        return replace(d, description="")
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise FlowError("report_description_too_long", n=MAX_DESCRIPTION, got=len(text))
    return replace(d, description=text)


def is_expired(updated_at: float, now: float, minutes: float = DRAFT_MINUTES) -> bool:
    return now - updated_at > minutes * 60


def ready(d: Draft) -> bool:
    return next_step(d) == CONFIRM
