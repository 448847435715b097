"""Request validation with LINE's limits and LINE-shaped error details.

Each checker appends ``(message, property)`` pairs to a list; an empty list means valid.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

MAX_MESSAGES = 5
MAX_TEXT_UTF16 = 5000
MAX_QUICK_REPLY_ITEMS = 13
MAX_ACTION_LABEL = 20
MAX_MULTICAST_TO = 500
MAX_ALT_TEXT = 400
MAX_CAROUSEL_BUBBLES = 12

MESSAGE_TYPES = {"text", "flex", "sticker", "image", "location", "template", "video", "audio", "imagemap"}
ACTION_TYPES = {
    "message",
    "postback",
    "uri",
    "datetimepicker",
    "camera",
    "cameraRoll",
    "location",
    "richmenuswitch",
    "clipboard",
}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Errors = list[tuple[str, str]]


# The product has its own (nlp.language.utf16_len). The emulator keeps a separate one on purpose:
# an emulator that measured texts with the bot's function could not catch a bug in it.
def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as LINE counts text (non-BMP characters count 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def is_uuid(value: str) -> bool:
    if not _UUID_RE.match(value):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _size(errors: Errors, value: Any, lo: int, hi: int, prop: str) -> bool:
    if not isinstance(value, list):
        errors.append(("Must be an array", prop))
        return False
    if not lo <= len(value) <= hi:
        errors.append((f"Size must be between {lo} and {hi}", prop))
        return False
    return True


def _string(errors: Errors, obj: dict, key: str, prop: str, max_len: int, *, required=True, utf16=False):
    value = obj.get(key)
    if value is None:
        if required:
            errors.append(("Must not be empty", f"{prop}.{key}"))
        return
    if not isinstance(value, str):
        errors.append(("Must be a string", f"{prop}.{key}"))
        return
    length = utf16_len(value) if utf16 else len(value)
    if required and length == 0:
        errors.append(("Must not be empty", f"{prop}.{key}"))
    elif length > max_len:
        errors.append((f"Length must be between 0 and {max_len}", f"{prop}.{key}"))


def check_action(errors: Errors, action: Any, prop: str, *, label_required: bool) -> None:
    if not isinstance(action, dict):
        errors.append(("Must be an object", prop))
        return
    atype = action.get("type")
    if atype not in ACTION_TYPES:
        errors.append(("Invalid action type", f"{prop}.type"))
        return
    _string(errors, action, "label", prop, MAX_ACTION_LABEL, required=label_required)
    if atype == "message":
        _string(errors, action, "text", prop, 300)
    elif atype == "postback":
        _string(errors, action, "data", prop, 300)
        _string(errors, action, "displayText", prop, 300, required=False)
    elif atype == "uri":
        _string(errors, action, "uri", prop, 1000)
    elif atype == "datetimepicker":
        _string(errors, action, "data", prop, 300)
        if action.get("mode") not in ("date", "time", "datetime"):
            errors.append(("Invalid mode", f"{prop}.mode"))


def _check_quick_reply(errors: Errors, quick_reply: Any, prop: str) -> None:
    if not isinstance(quick_reply, dict):
        errors.append(("Must be an object", prop))
        return
    items = quick_reply.get("items")
    if not _size(errors, items, 1, MAX_QUICK_REPLY_ITEMS, f"{prop}.items"):
        return
    for i, item in enumerate(items):
        iprop = f"{prop}.items[{i}]"
        if not isinstance(item, dict) or item.get("type") != "action":
            errors.append(("Invalid quick reply item type", f"{iprop}.type"))
            continue
        check_action(errors, item.get("action"), f"{iprop}.action", label_required=True)


def _check_flex_container(errors: Errors, contents: Any, prop: str) -> None:
    if not isinstance(contents, dict):
        errors.append(("Must not be empty", prop))
        return
    ctype = contents.get("type")
    if ctype == "bubble":
        return
    if ctype == "carousel":
        bubbles = contents.get("contents")
        if _size(errors, bubbles, 1, MAX_CAROUSEL_BUBBLES, f"{prop}.contents"):
            for i, bubble in enumerate(bubbles):
                if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
                    errors.append(("Invalid flex container type", f"{prop}.contents[{i}].type"))
        return
    errors.append(("Invalid flex container type", f"{prop}.type"))


def _check_template(errors: Errors, template: Any, prop: str) -> None:
    if not isinstance(template, dict):
        errors.append(("Must not be empty", prop))
        return
    ttype = template.get("type")
    if ttype == "buttons":
        _string(errors, template, "text", prop, 160)
        actions = template.get("actions")
        if _size(errors, actions, 1, 4, f"{prop}.actions"):
            for i, a in enumerate(actions):
                check_action(errors, a, f"{prop}.actions[{i}]", label_required=True)
    elif ttype == "confirm":
        _string(errors, template, "text", prop, 240)
        actions = template.get("actions")
        if _size(errors, actions, 2, 2, f"{prop}.actions"):
            for i, a in enumerate(actions):
                check_action(errors, a, f"{prop}.actions[{i}]", label_required=True)
    elif ttype in ("carousel", "image_carousel"):
        _size(errors, template.get("columns"), 1, 10, f"{prop}.columns")
    else:
        errors.append(("Invalid template type", f"{prop}.type"))


def check_message(errors: Errors, message: Any, prop: str) -> None:
    if not isinstance(message, dict):
        errors.append(("Must be an object", prop))
        return
    mtype = message.get("type")
    if mtype not in MESSAGE_TYPES:
        errors.append(("Invalid message type", f"{prop}.type"))
        return
    if mtype == "text":
        _string(errors, message, "text", prop, MAX_TEXT_UTF16, utf16=True)
    elif mtype == "flex":
        _string(errors, message, "altText", prop, MAX_ALT_TEXT)
        _check_flex_container(errors, message.get("contents"), f"{prop}.contents")
    elif mtype == "template":
        _string(errors, message, "altText", prop, MAX_ALT_TEXT)
        _check_template(errors, message.get("template"), f"{prop}.template")
    elif mtype == "sticker":
        _string(errors, message, "packageId", prop, 100)
        _string(errors, message, "stickerId", prop, 100)
    elif mtype in ("image", "video"):
        _string(errors, message, "originalContentUrl", prop, 2000)
        _string(errors, message, "previewImageUrl", prop, 2000)
    elif mtype == "audio":
        _string(errors, message, "originalContentUrl", prop, 2000)
    elif mtype == "location":
        _string(errors, message, "title", prop, 100)
        _string(errors, message, "address", prop, 100)
        for key in ("latitude", "longitude"):
            if not isinstance(message.get(key), (int, float)) or isinstance(message.get(key), bool):
                errors.append(("Must be a number", f"{prop}.{key}"))
    elif mtype == "imagemap":
        _string(errors, message, "baseUrl", prop, 2000)
        _string(errors, message, "altText", prop, MAX_ALT_TEXT)
    if "quickReply" in message and message["quickReply"] is not None:
        _check_quick_reply(errors, message["quickReply"], f"{prop}.quickReply")


def check_messages(errors: Errors, body: dict) -> list:
    messages = body.get("messages")
    if _size(errors, messages, 1, MAX_MESSAGES, "messages"):
        for i, m in enumerate(messages):
            check_message(errors, m, f"messages[{i}]")
    return messages if isinstance(messages, list) else []
