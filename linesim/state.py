"""The simulator's in-memory platform state: users, reply tokens, deliveries, faults.

No Flask here; ``app.py`` turns HTTP requests into calls on :class:`SimState`. Every public
method takes ``self.lock`` around shared state because the dev server is threaded.
"""

from __future__ import annotations

import bisect
import collections
import copy
import json
import random
import threading
import time
import uuid
from typing import Any

from . import validate
from .events import destination_for, new_message_id, new_token

SEND_ENDPOINTS = ("reply", "push", "multicast", "broadcast", "narrowcast")
PAID_ENDPOINTS = ("push", "multicast", "broadcast", "narrowcast")
QUOTABLE_TYPES = {"text", "sticker", "image", "video"}

MSG_RATE_LIMIT = "The API rate limit has been exceeded. Try again later."
MSG_MONTHLY_LIMIT = "You have reached your monthly limit."
MSG_INTERNAL = "An error occurred in the LINE Platform. Try again later."

DEFAULT_FAULTS: dict[str, Any] = {
    "rate_429": 0.0,
    "rate_500": 0.0,
    "rate_500_after_accept": 0.0,
    "latency_ms": 0,
    "monthly_limit": False,
    "seed": None,
    "endpoints": list(SEND_ENDPOINTS),
    "multicast_rate_limit_rps": None,
}

# Record tuple layout (tuples keep 100k+ records cheap): see _record_dict.
_SEQ, _KIND, _TO, _MESSAGE, _RETRY_KEY, _REQUEST_ID, _TIME, _MSG_ID = range(8)


class FaultConfigError(ValueError):
    """Raised for an invalid /_emulator/faults body."""


def _record_dict(rec: tuple) -> dict[str, Any]:
    return {
        "seq": rec[_SEQ],
        "kind": rec[_KIND],
        "to": rec[_TO],
        "message": rec[_MESSAGE],
        "id": rec[_MSG_ID],
        "retryKey": rec[_RETRY_KEY],
        "requestId": rec[_REQUEST_ID],
        "time": rec[_TIME],
    }


def _error(message: str, details: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = [{"message": m, "property": p} for m, p in details]
    return body


class SimState:
    """All mutable platform state of one simulated channel."""

    def __init__(self, channel_secret: str, access_token: str, webhook_url: str | None = None):
        self.lock = threading.Lock()
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.auth_header = f"Bearer {access_token}"
        self.config: dict[str, Any] = {
            "webhook_url": webhook_url,
            "bot_name": "みどり区 公式",
            "destination": destination_for(channel_secret),
            "webhook_timeout_s": 10.0,
        }
        self.users: dict[str, dict[str, Any]] = {}
        self.blocked: set[str] = set()
        self.reply_tokens: dict[str, str | None] = {}
        self.loading: dict[str, int] = {}
        # Message content (photos, videos, files residents send): bytes a test or the chat page
        # registers per message id, with optional statuses answered before them (faults).
        self.contents: dict[str, dict[str, Any]] = {}
        self.set_faults({})
        self.reset_records()

    # ----- records -------------------------------------------------------------------

    def reset_records(self) -> None:
        with self.lock:
            self.records: list[tuple] = []
            self.by_user: dict[str, list[tuple]] = {}
            self.seq = 0
            self.counts: dict[str, int] = {}
            self.send_requests = 0
            self.reply_requests = 0
            self.total_usage = 0
            self.accepted_keys: dict[str, tuple[str, list]] = {}
            self.request_log: collections.deque = collections.deque(maxlen=10000)

    def reset_all(self) -> None:
        with self.lock:
            self.users.clear()
            self.blocked.clear()
            self.reply_tokens.clear()
            self.loading.clear()
            self.contents.clear()
        self.set_faults({})
        self.reset_records()

    def messages(self, to: str | None, since: int, limit: int | None, kind: str | None) -> dict[str, Any]:
        with self.lock:
            source = self.by_user.get(to, []) if to is not None else self.records
            start = bisect.bisect_right(source, since, key=lambda r: r[_SEQ])
            selected = source[start:]
            last_seq = self.seq
            loading_until = self.loading.get(to) if to is not None else None
        if kind:
            selected = [r for r in selected if r[_KIND] == kind]
        if limit is not None:
            selected = selected[:limit]
        body: dict[str, Any] = {"messages": [_record_dict(r) for r in selected], "lastSeq": last_seq}
        if loading_until and loading_until > time.time() * 1000:
            body["loadingUntil"] = loading_until
        return body

    def delivery_counts(self) -> dict[str, Any]:
        with self.lock:
            return {
                "counts": dict(self.counts),
                "requests": self.send_requests,
                "replies": self.reply_requests,
                "totalUsage": self.total_usage,
            }

    def requests(self, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.request_log)
        return items[-limit:] if limit else items

    def log(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.request_log.append(entry)

    # ----- users & tokens ----------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        display_name: str | None = None,
        language: str | None = None,
        picture_url: str | None = None,
        status_message: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            profile = self.users.get(user_id) or {"userId": user_id, "displayName": f"ユーザー{user_id[-4:]}"}
            if display_name:
                profile["displayName"] = display_name
            for key, value in (("language", language), ("pictureUrl", picture_url), ("statusMessage", status_message)):
                if value:
                    profile[key] = value
            self.users[user_id] = profile
            return dict(profile)

    def follow(self, user_id: str, display_name: str | None, language: str | None) -> bool:
        """Register and unblock a user; return True when this unblocks a previous unfollow."""
        self.add_user(user_id, display_name, language)
        with self.lock:
            was_blocked = user_id in self.blocked
            self.blocked.discard(user_id)
        return was_blocked

    def unfollow(self, user_id: str) -> None:
        with self.lock:
            self.blocked.add(user_id)

    def profile(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            if user_id in self.blocked:
                return None
            profile = self.users.get(user_id)
            return dict(profile) if profile else None

    def list_users(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(p, blocked=p["userId"] in self.blocked) for p in self.users.values()]

    def mint_reply_token(self, user_id: str | None = None, token: str | None = None) -> str:
        token = token or new_token()
        with self.lock:
            self.reply_tokens[token] = user_id
        return token

    def start_loading(self, chat_id: str, seconds: int) -> None:
        with self.lock:
            self.loading[chat_id] = int(time.time() * 1000) + seconds * 1000

    # ----- message content (the data host's /v2/bot/message/{id}/content) --------------

    def put_content(self, message_id: str | None, data: bytes, content_type: str, fail: list[int] | None = None) -> str:
        """Register the bytes of a message; `fail`: statuses answered (in order) before them."""
        message_id = message_id or new_message_id()
        with self.lock:
            self.contents[message_id] = {"data": data, "type": content_type, "fail": list(fail or [])}
        return message_id

    def get_content(self, message_id: str) -> tuple[int, bytes, str]:
        """(status, body, content type): 404 for an unknown (or expired) id, as LINE answers."""
        with self.lock:
            item = self.contents.get(message_id)
            if item is None:
                return 404, json.dumps({"message": "Not found"}).encode(), "application/json"
            if item["fail"]:
                status = item["fail"].pop(0)
                return status, json.dumps({"message": MSG_INTERNAL}).encode(), "application/json"
            return 200, item["data"], item["type"]

    # ----- faults ----------------------------------------------------------------

    def set_faults(self, changes: dict[str, Any], *, replace: bool = True) -> dict[str, Any]:
        base = copy.deepcopy(DEFAULT_FAULTS) if replace else self.get_faults()
        for key, value in changes.items():
            if key not in DEFAULT_FAULTS:
                raise FaultConfigError(f"unknown fault setting: {key}")
            base[key] = value
        for key in ("rate_429", "rate_500", "rate_500_after_accept"):
            if not isinstance(base[key], (int, float)) or not 0 <= base[key] <= 1:
                raise FaultConfigError(f"{key} must be a number between 0 and 1")
        if not isinstance(base["latency_ms"], (int, float)) or base["latency_ms"] < 0:
            raise FaultConfigError("latency_ms must be a non-negative number")
        endpoints = base["endpoints"]
        if not isinstance(endpoints, list) or any(e not in SEND_ENDPOINTS for e in endpoints):
            raise FaultConfigError(f"endpoints must be a list drawn from {list(SEND_ENDPOINTS)}")
        rps = base["multicast_rate_limit_rps"]
        if rps is not None and (not isinstance(rps, (int, float)) or rps <= 0):
            raise FaultConfigError("multicast_rate_limit_rps must be a positive number or null")
        with self.lock:
            self.faults = base
            self.fault_endpoints = frozenset(endpoints)
            self.rng = random.Random(base["seed"])
            self.rate_window = (0, 0)
        return copy.deepcopy(base)

    def get_faults(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.faults)

    def latency_for(self, endpoint: str) -> float:
        faults = self.faults  # read of a reference; replaced atomically by set_faults
        if faults["latency_ms"] and endpoint in self.fault_endpoints:
            return faults["latency_ms"] / 1000.0
        return 0.0

    # ----- the send endpoints ---------------------------------------------------------

    def send(self, endpoint: str, raw: bytes, retry_key: str | None) -> tuple[int, dict, dict[str, str]]:
        """Handle one reply/push/multicast/broadcast/narrowcast; return (status, body, headers)."""
        request_id = str(uuid.uuid4())
        headers = {"x-line-request-id": request_id}
        status, body, recipients = self._send(endpoint, raw, retry_key, request_id, headers)
        entry = {
            "time": int(time.time() * 1000),
            "endpoint": endpoint,
            "status": status,
            "requestId": request_id,
            "retryKey": retry_key,
            "recipients": recipients,
        }
        if status >= 300:
            entry["error"] = body.get("message")
        self.log(entry)
        return status, body, headers

    def _send(self, endpoint, raw, retry_key, request_id, headers):
        if retry_key is not None:
            if endpoint == "reply":
                return 400, _error("The X-Line-Retry-Key header is not supported for this API."), 0
            if not validate.is_uuid(retry_key):
                return (
                    400,
                    _error(
                        "The value of the X-Line-Retry-Key header is invalid.", [("Must be a UUID", "X-Line-Retry-Key")]
                    ),
                    0,
                )
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, _error("The request body has 1 error(s)", [("Invalid JSON", "body")]), 0
        if not isinstance(body, dict):
            return 400, _error("The request body has 1 error(s)", [("Must be an object", "body")]), 0

        errors: validate.Errors = []
        messages = validate.check_messages(errors, body)
        to = body.get("to")
        if endpoint == "reply":
            if not isinstance(body.get("replyToken"), str) or not body["replyToken"]:
                errors.append(("Must not be empty", "replyToken"))
        elif endpoint == "push":
            if not isinstance(to, str) or not to:
                errors.append(("Must not be empty", "to"))
        elif endpoint == "multicast":
            if validate._size(errors, to, 1, validate.MAX_MULTICAST_TO, "to"):
                for i, uid in enumerate(to):
                    if not isinstance(uid, str) or not uid:
                        errors.append(("Must be a user ID", f"to[{i}]"))
        if errors:
            return 400, _error(f"The request body has {len(errors)} error(s)", errors), 0

        now_ms = int(time.time() * 1000)
        with self.lock:
            faults = self.faults
            if endpoint == "reply":
                token = body["replyToken"]
                if token not in self.reply_tokens:
                    return 400, _error("Invalid reply token"), 0
            if retry_key is not None and retry_key in self.accepted_keys:
                accepted_id, sent = self.accepted_keys[retry_key]
                headers["x-line-accepted-request-id"] = accepted_id
                conflict = _error("The retry key is already accepted")
                if endpoint == "push":
                    conflict["sentMessages"] = sent
                return 409, conflict, 0
            if faults["monthly_limit"] and endpoint in PAID_ENDPOINTS:
                return 429, _error(MSG_MONTHLY_LIMIT), 0
            rps = faults["multicast_rate_limit_rps"]
            if rps is not None and endpoint == "multicast":
                second = int(now_ms // 1000)
                window, count = self.rate_window
                count = count + 1 if window == second else 1
                self.rate_window = (second, count)
                if count > rps:
                    return 429, _error(MSG_RATE_LIMIT), 0
            in_scope = endpoint in self.fault_endpoints
            if in_scope and (faults["rate_429"] or faults["rate_500"]):
                roll = self.rng.random()
                if roll < faults["rate_429"]:
                    return 429, _error(MSG_RATE_LIMIT), 0
                if roll < faults["rate_429"] + faults["rate_500"]:
                    return 500, _error(MSG_INTERNAL), 0

            # Accepted: deliver and record.
            if endpoint == "reply":
                recipients = [self.reply_tokens.pop(body["replyToken"])]
            elif endpoint == "push":
                recipients = [to]
            elif endpoint == "multicast":
                recipients = list(dict.fromkeys(to))
            else:  # broadcast / narrowcast reach every registered friend
                recipients = list(self.users)
            blocked = self.blocked
            if blocked:
                recipients = [r for r in recipients if r not in blocked]

            sent = []
            ids = []
            for m in messages:
                mid = new_message_id()
                ids.append(mid)
                item = {"id": mid}
                if m.get("type") in QUOTABLE_TYPES:
                    item["quoteToken"] = new_token()
                sent.append(item)
            records, by_user, counts = self.records, self.by_user, self.counts
            seq = self.seq
            for uid in recipients:
                user_list = by_user.get(uid)
                if user_list is None:
                    user_list = by_user[uid] = []
                for m, mid in zip(messages, ids, strict=True):
                    seq += 1
                    rec = (seq, endpoint, uid, m, retry_key, request_id, now_ms, mid)
                    records.append(rec)
                    user_list.append(rec)
                if endpoint != "reply" and uid is not None:
                    counts[uid] = counts.get(uid, 0) + 1
            self.seq = seq
            if self.loading:  # a delivered message ends the loading animation, as in LINE
                for uid in recipients:
                    self.loading.pop(uid, None)
            if endpoint == "reply":
                self.reply_requests += 1
            else:
                self.send_requests += 1
                self.total_usage += len(recipients)
            if retry_key is not None:
                self.accepted_keys[retry_key] = (request_id, sent)
            if in_scope and faults["rate_500_after_accept"] and self.rng.random() < faults["rate_500_after_accept"]:
                return 500, _error(MSG_INTERNAL), len(recipients)

        if endpoint in ("reply", "push"):
            return 200, {"sentMessages": sent}, len(recipients)
        return (202 if endpoint == "narrowcast" else 200), {}, len(recipients)

    def quota(self) -> dict[str, Any]:
        with self.lock:
            if self.faults["monthly_limit"]:
                return {"type": "limited", "value": self.total_usage}
        return {"type": "none"}

    def consumption(self) -> dict[str, Any]:
        with self.lock:
            return {"totalUsage": self.total_usage}
