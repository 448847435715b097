"""Helpers for report tests: photos with EXIF made by Pillow, image events, the emulator's content API."""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image

from devtools.events import image_event, location_event, post_events

__all__ = ["image_event", "location_event"]  # re-exported: older report tests import them from here

GPS_TAG = 0x8825  # GPSInfo IFD
MAKE_TAG, MODEL_TAG, DATETIME_TAG, ORIENTATION_TAG = 0x010F, 0x0110, 0x0132, 0x0112


def jpeg_with_gps(size: tuple[int, int] = (640, 480), orientation: int | None = None, noise: bool = False) -> bytes:
    """A JPEG carrying GPS position, camera make/model and time in EXIF, like a phone photo."""
    if noise:
        import os

        img = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        # Asphalt with a white line and a pothole: something a person recognises in a screenshot.
        from PIL import ImageDraw

        w, h = size
        img = Image.linear_gradient("L").resize(size).point(lambda v: 70 + v // 4).convert("RGB")
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, int(h * 0.15), w, int(h * 0.19)), fill=(235, 235, 225))
        draw.ellipse((int(w * 0.3), int(h * 0.45), int(w * 0.7), int(h * 0.8)), fill=(35, 32, 30))
        draw.ellipse((int(w * 0.36), int(h * 0.52), int(w * 0.62), int(h * 0.72)), fill=(20, 20, 22))
    exif = Image.Exif()
    exif[MAKE_TAG] = "PhoneMaker"
    exif[MODEL_TAG] = "Phone 15"
    exif[DATETIME_TAG] = "2026:11:30 09:15:00"
    if orientation:
        exif[ORIENTATION_TAG] = orientation
    gps = exif.get_ifd(GPS_TAG)
    gps[1] = "N"
    gps[2] = (35.0, 42.0, 4.32)
    gps[3] = "E"
    gps[4] = (139.0, 38.0, 55.68)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=92)
    return buf.getvalue()


def has_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as img:
        return bool(img.getexif()) or "exif" in img.info or b"Exif\x00\x00" in data or b"PhoneMaker" in data


def put_content(emulator, data: bytes, content_type: str = "image/jpeg", fail: str = "") -> str:
    mid = str(uuid.uuid4().int)[:18]
    r = emulator.http.put(
        f"{emulator.base_url}/_emulator/content/{mid}" + (f"?fail={fail}" if fail else ""),
        data=data,
        headers={"Content-Type": content_type},
    )
    r.raise_for_status()
    return mid


class Resident:
    """A resident chatting through the signed webhook; returns the bot's last reply."""

    def __init__(self, client, emulator, user: str):
        self.client, self.emulator, self.user = client, emulator, user

    def _post(self, event_fn, *args) -> dict[str, Any]:
        token = self.emulator.mint_token(self.user)
        resp = post_events(self.client, [event_fn(self.user, token, *args)])
        assert resp.status_code == 200
        return self.last()

    def last(self) -> dict[str, Any]:
        replies = [m["message"] for m in self.emulator.messages(to=self.user) if m["kind"] == "reply"]
        return replies[-1] if replies else {}

    def say(self, text: str) -> dict[str, Any]:
        from tests.conftest import text_event

        return self._post(lambda u, tok: text_event(u, text, tok))

    def photo(self, data: bytes, fail: str = "", content_type: str = "image/jpeg") -> dict[str, Any]:
        mid = put_content(self.emulator, data, content_type, fail)
        return self._post(image_event, mid)

    def send(self, kind: str) -> dict[str, Any]:
        mid = put_content(self.emulator, b"\x00\x00\x00\x18ftypmp42", "video/mp4")
        return self._post(image_event, mid, kind)

    def location(self, lat: float, lon: float) -> dict[str, Any]:
        return self._post(location_event, lat, lon)

    def tap(self, reply: dict[str, Any], label: str) -> dict[str, Any]:
        from tests.conftest import postback_event

        action = button(reply, label)
        assert action["type"] == "postback", action
        return self._post(lambda u, tok: postback_event(u, action["data"], tok))


def labels(reply: dict[str, Any]) -> list[str]:
    return [i["action"].get("label", i["action"]["type"]) for i in (reply.get("quickReply") or {}).get("items", [])]


def button(reply: dict[str, Any], label: str) -> dict[str, Any]:
    for item in (reply.get("quickReply") or {}).get("items", []):
        if item["action"].get("label") == label:
            return item["action"]
    raise AssertionError(f"no button {label!r} in {labels(reply)}")
