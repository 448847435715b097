"""linesim: the rich-menu endpoints, with the limits LINE documents.

Limits checked (developers.line.biz, Messaging API reference "Rich menu"): size width 800–2500,
height ≥ 250, width/height ≥ 1.45; 1–20 areas inside the image; chatBarText 1–14 characters;
name ≤ 300; actions postback / message / uri / datetimepicker / richmenuswitch only (location,
camera and cameraRoll are quick-reply actions); an image (JPEG or PNG, ≤ 1 MB, the menu's own
size) uploaded once, before the menu is made the default or linked; bulk link/unlink ≤ 500 users.
The chat page reads `/_emulator/richmenu/<userId>` to show the menu a user currently sees.
"""

from __future__ import annotations

import io
import json
import struct
import threading
import uuid
from typing import Any

from flask import Flask, Response, request

MAX_IMAGE_BYTES = 1024 * 1024
RICH_MENU_ACTIONS = ("postback", "message", "uri", "datetimepicker", "richmenuswitch")


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
        headers={"x-line-request-id": str(uuid.uuid4())},
    )


def _error(message: str, status: int = 400, details: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return _json(body, status)


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(kind, width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data.startswith(b"\xff\xd8"):
        stream = io.BytesIO(data[2:])
        while True:
            marker = stream.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return None
            if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
                continue
            length_raw = stream.read(2)
            if len(length_raw) < 2:
                return None
            (length,) = struct.unpack(">H", length_raw)
            if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
                seg = stream.read(5)
                if len(seg) < 5:
                    return None
                height, width = struct.unpack(">HH", seg[1:5])
                return "jpeg", width, height
            stream.seek(length - 2, io.SEEK_CUR)
    return None


def validate_menu(body: Any) -> list[dict[str, str]]:
    """LINE's checks on a rich-menu object; each problem as {message, property}."""
    if not isinstance(body, dict):
        return [{"message": "must be an object", "property": "body"}]
    details: list[dict[str, str]] = []

    def bad(prop: str, message: str) -> None:
        details.append({"message": message, "property": prop})

    size = body.get("size") if isinstance(body.get("size"), dict) else {}
    width, height = size.get("width"), size.get("height")
    if not isinstance(width, int) or not 800 <= width <= 2500:
        bad("size.width", "must be between 800 and 2500")
    if not isinstance(height, int) or height < 250:
        bad("size.height", "must be 250 or more")
    if isinstance(width, int) and isinstance(height, int) and height and width / height < 1.45:
        bad("size", "width / height must be at least 1.45")
    if not isinstance(body.get("selected"), bool):
        bad("selected", "must be true or false")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 300:
        bad("name", "must be 1 to 300 characters")
    chat_bar = body.get("chatBarText")
    if not isinstance(chat_bar, str) or not 1 <= len(chat_bar) <= 14:
        bad("chatBarText", "must be 1 to 14 characters")
    areas = body.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= 20:
        bad("areas", "must have 1 to 20 areas")
        return details
    for i, area in enumerate(areas):
        _validate_area(area, i, width, height, bad)
    return details


def _validate_area(area: Any, i: int, width: Any, height: Any, bad) -> None:
    prop = f"areas[{i}]"
    if not isinstance(area, dict):
        bad(prop, "must be an object")
        return
    b = area.get("bounds") if isinstance(area.get("bounds"), dict) else {}
    nums = [b.get(k) for k in ("x", "y", "width", "height")]
    if not all(isinstance(n, int) and n >= 0 for n in nums):
        bad(f"{prop}.bounds", "x, y, width and height must be non-negative integers")
    elif isinstance(width, int) and isinstance(height, int):
        x, y, w, h = nums
        if x + w > width or y + h > height or not w or not h:
            bad(f"{prop}.bounds", "must be inside the image")
    action = area.get("action") if isinstance(area.get("action"), dict) else {}
    kind = action.get("type")
    if kind not in RICH_MENU_ACTIONS:
        bad(f"{prop}.action.type", f"{kind!r} is not allowed in a rich menu")
        return
    label = action.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 20):
        bad(f"{prop}.action.label", "must be at most 20 characters")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or not 1 <= len(data) <= 300:
            bad(f"{prop}.action.data", "must be 1 to 300 characters")
        if "displayText" in action and len(str(action["displayText"])) > 300:
            bad(f"{prop}.action.displayText", "must be at most 300 characters")
    elif kind == "message":
        text = action.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 300:
            bad(f"{prop}.action.text", "must be 1 to 300 characters")
    elif kind == "uri":
        uri = action.get("uri")
        if (
            not isinstance(uri, str)
            or len(uri) > 1000
            or not uri.startswith(("http://", "https://", "line://", "tel:"))
        ):
            bad(f"{prop}.action.uri", "must be an http, https, line or tel URI of at most 1000 characters")


class RichMenuState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.menus: dict[str, dict[str, Any]] = {}
        self.images: dict[str, tuple[str, bytes]] = {}
        self.default: str | None = None
        self.links: dict[str, str] = {}
        self.calls: list[str] = []
        # Statuses the next bulk link/unlink calls answer with (429, 500, …), then normal again.
        self.fail_next: list[int] = []

    def reset(self) -> None:
        with self.lock:
            self.__init__()

    def effective(self, user_id: str) -> str | None:
        with self.lock:
            return self.links.get(user_id) or self.default


def register(app: Flask, auth_header: str) -> RichMenuState:
    """Add the rich-menu routes to the simulator app; returns their state."""
    st = RichMenuState()
    app.extensions["linesim.richmenu"] = st

    def denied() -> Response | None:
        if request.headers.get("Authorization") != auth_header:
            return _error(
                "Authentication failed. Confirm that the access token in the authorization header is valid.", 401
            )
        return None

    def exists(rich_menu_id: str) -> bool:
        return rich_menu_id in st.menus

    @app.post("/v2/bot/richmenu")
    def create_menu():
        if (d := denied()) is not None:
            return d
        body = request.get_json(silent=True)
        details = validate_menu(body)
        if details:
            return _error("The request body has errors", 400, details)
        rich_menu_id = "richmenu-" + uuid.uuid4().hex
        with st.lock:
            st.menus[rich_menu_id] = {"richMenuId": rich_menu_id, **body}
            st.calls.append("create")
        return _json({"richMenuId": rich_menu_id})

    @app.post("/v2/bot/richmenu/validate")
    def validate_only():
        if (d := denied()) is not None:
            return d
        details = validate_menu(request.get_json(silent=True))
        return _error("The request body has errors", 400, details) if details else _json({})

    @app.get("/v2/bot/richmenu/list")
    def list_menus():
        if (d := denied()) is not None:
            return d
        with st.lock:
            return _json({"richmenus": list(st.menus.values())})

    @app.get("/v2/bot/richmenu/<rich_menu_id>")
    def get_menu(rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            menu = st.menus.get(rich_menu_id)
        return _json(menu) if menu else _error("Not found", 404)

    @app.delete("/v2/bot/richmenu/<rich_menu_id>")
    def delete_menu(rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            if st.menus.pop(rich_menu_id, None) is None:
                return _error("Not found", 404)
            st.images.pop(rich_menu_id, None)
            st.links = {u: m for u, m in st.links.items() if m != rich_menu_id}
            if st.default == rich_menu_id:
                st.default = None
            st.calls.append("delete")
        return _json({})

    @app.post("/v2/bot/richmenu/<rich_menu_id>/content")
    def upload_image(rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        length = request.content_length or 0
        if length > MAX_IMAGE_BYTES:
            return _error("The image size must be 1MB or less", 400)
        data = request.get_data()
        if len(data) > MAX_IMAGE_BYTES:
            return _error("The image size must be 1MB or less", 400)
        content_type = (request.content_type or "").split(";")[0].strip()
        if content_type not in ("image/png", "image/jpeg"):
            return _error("Content-Type must be image/png or image/jpeg", 415)
        with st.lock:
            menu = st.menus.get(rich_menu_id)
            if menu is None:
                return _error("Not found", 404)
            if rich_menu_id in st.images:
                return _error("An image has already been uploaded to the richmenu", 400)
            info = image_size(data)
            if info is None or info[0] != content_type.split("/")[1]:
                return _error("The image is not a valid " + content_type, 400)
            if (info[1], info[2]) != (menu["size"]["width"], menu["size"]["height"]):
                return _error("The image size does not match the rich menu size", 400)
            st.images[rich_menu_id] = (content_type, data)
            st.calls.append("upload")
        return _json({})

    @app.get("/v2/bot/richmenu/<rich_menu_id>/content")
    def download_image(rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            image = st.images.get(rich_menu_id)
        if image is None:
            return _error("Not found", 404)
        return Response(image[1], content_type=image[0])

    def ready(rich_menu_id: str) -> Response | None:
        if rich_menu_id not in st.menus:
            return _error("Not found", 404)
        if rich_menu_id not in st.images:
            return _error("must upload richmenu image before applying it to user", 400)
        return None

    @app.post("/v2/bot/user/all/richmenu/<rich_menu_id>")
    def set_default(rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            if (err := ready(rich_menu_id)) is not None:
                return err
            st.default = rich_menu_id
            st.calls.append("default")
        return _json({})

    @app.get("/v2/bot/user/all/richmenu")
    def get_default():
        if (d := denied()) is not None:
            return d
        with st.lock:
            default = st.default
        return _json({"richMenuId": default}) if default else _error("no default richmenu", 404)

    @app.delete("/v2/bot/user/all/richmenu")
    def cancel_default():
        if (d := denied()) is not None:
            return d
        with st.lock:
            st.default = None
        return _json({})

    @app.post("/v2/bot/user/<user_id>/richmenu/<rich_menu_id>")
    def link_one(user_id: str, rich_menu_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            if (err := ready(rich_menu_id)) is not None:
                return err
            st.links[user_id] = rich_menu_id
            st.calls.append("link")
        return _json({})

    @app.delete("/v2/bot/user/<user_id>/richmenu")
    def unlink_one(user_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            st.links.pop(user_id, None)
            st.calls.append("unlink")
        return _json({})

    @app.get("/v2/bot/user/<user_id>/richmenu")
    def menu_of_user(user_id: str):
        if (d := denied()) is not None:
            return d
        with st.lock:
            linked = st.links.get(user_id)
        return _json({"richMenuId": linked}) if linked else _error("the user has no richmenu", 404)

    def injected_fault() -> Response | None:
        with st.lock:
            if not st.fail_next:
                return None
            status = st.fail_next.pop(0)
            st.calls.append(f"fault_{status}")
        message = "The API rate limit has been exceeded. Try again later." if status == 429 else "An error occurred"
        return _error(message, status)

    @app.post("/_emulator/richmenu-faults")
    def set_faults():
        body = request.get_json(silent=True) or {}
        with st.lock:
            st.fail_next = [int(s) for s in body.get("fail_next", [])]
        return _json({"fail_next": st.fail_next})

    def _user_ids(body: Any) -> list[str] | Response:
        ids = body.get("userIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 500 or not all(isinstance(u, str) for u in ids):
            return _error("userIds must be a list of 1 to 500 user IDs", 400)
        return ids

    @app.post("/v2/bot/richmenu/bulk/link")
    def bulk_link():
        if (d := denied()) is not None:
            return d
        if (fault := injected_fault()) is not None:
            return fault
        body = request.get_json(silent=True)
        ids = _user_ids(body)
        if isinstance(ids, Response):
            return ids
        with st.lock:
            if (err := ready(str(body.get("richMenuId")))) is not None:
                return err
            for uid in ids:
                st.links[uid] = body["richMenuId"]
            st.calls.append("bulk_link")
        return _json({}, 202)

    @app.post("/v2/bot/richmenu/bulk/unlink")
    def bulk_unlink():
        if (d := denied()) is not None:
            return d
        if (fault := injected_fault()) is not None:
            return fault
        ids = _user_ids(request.get_json(silent=True))
        if isinstance(ids, Response):
            return ids
        with st.lock:
            for uid in ids:
                st.links.pop(uid, None)
            st.calls.append("bulk_unlink")
        return _json({}, 202)

    # ----- what the chat page shows ---------------------------------------------------

    @app.get("/_emulator/richmenu/<user_id>")
    def emulator_menu(user_id: str):
        rich_menu_id = st.effective(user_id)
        with st.lock:
            menu = st.menus.get(rich_menu_id or "")
            linked = st.links.get(user_id)
        if menu is None:
            return _json({"richMenuId": None})
        return _json({"richMenuId": rich_menu_id, "linked": bool(linked), "menu": menu})

    @app.get("/_emulator/richmenu-image/<rich_menu_id>")
    def emulator_image(rich_menu_id: str):
        with st.lock:
            image = st.images.get(rich_menu_id)
        if image is None:
            return _error("Not found", 404)
        return Response(image[1], content_type=image[0])

    @app.get("/_emulator/richmenu-state")
    def emulator_state():
        with st.lock:
            return _json(
                {"menus": len(st.menus), "default": st.default, "links": dict(st.links), "calls": list(st.calls)}
            )

    return st
