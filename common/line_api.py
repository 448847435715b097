"""The one module that calls the LINE Messaging API (through line-bot-sdk v3).

Every call goes to `LINE_API_BASE_URL` (message content to `LINE_API_DATA_BASE_URL`, LINE's
data host), so tests and the dev simulator point the real SDK at a local emulator. Errors come back as `LineApiError` with the HTTP
status, LINE's message and the response headers the delivery worker needs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    FlexMessage,
    Message,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)

DEFAULT_TIMEOUT = (3.05, 10)
DEFAULT_API_BASE_URL = "https://api.line.me"
DEFAULT_DATA_BASE_URL = "https://api-data.line.me"
CONTENT_TIMEOUT = (3.05, 30)  # a photo of several MB on a slow link


def data_base_url(configured: str | None, api_base_url: str | None) -> str:
    """The data host: as configured; else the API base URL when that points elsewhere (an
    emulator serves both); else LINE's data host."""
    if configured:
        return configured
    if api_base_url and api_base_url.rstrip("/") != DEFAULT_API_BASE_URL:
        return api_base_url
    return DEFAULT_DATA_BASE_URL


class LineApiError(Exception):
    """A Messaging API call failed (status 0 = no HTTP answer: timeout or connection error)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"LINE API {status}: {message}")
        self.status = status
        self.message = message
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}

    @property
    def is_monthly_limit(self) -> bool:
        return self.status == 429 and "monthly limit" in self.message.lower()

    @property
    def accepted_request_id(self) -> str | None:
        return self.headers.get("x-line-accepted-request-id")


def _error_from(exc: Exception) -> LineApiError:
    if isinstance(exc, ApiException):
        message = ""
        try:
            message = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = str(exc.reason or "")
        headers = dict(exc.headers or {})
        return LineApiError(int(exc.status or 0), message or str(exc.reason or ""), headers)
    return LineApiError(0, f"{type(exc).__name__}: {exc}")


@dataclass
class LineApi:
    """Thin wrapper over MessagingApi with one pooled ApiClient per process."""

    base_url: str
    access_token: str
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    data_url: str | None = None
    _client: ApiClient | None = field(default=None, init=False, repr=False)
    _data_client: ApiClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _api(self) -> MessagingApi:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    conf = Configuration(host=self.base_url.rstrip("/"), access_token=self.access_token)
                    conf.connection_pool_maxsize = 32
                    self._client = ApiClient(conf)
        return MessagingApi(self._client)

    def _blob(self) -> MessagingApiBlob:
        # The SDK's blob API names its own host, but a Configuration host wins: a second client.
        if self._data_client is None:
            with self._lock:
                if self._data_client is None:
                    host = data_base_url(self.data_url, self.base_url).rstrip("/")
                    conf = Configuration(host=host, access_token=self.access_token)
                    conf.connection_pool_maxsize = 8
                    self._data_client = ApiClient(conf)
        return MessagingApiBlob(self._data_client)

    def content(self, message_id: str) -> tuple[bytes, str | None]:
        """The bytes a user sent (image, video, file) and LINE's Content-Type."""
        try:
            resp = self._blob().get_message_content_with_http_info(message_id, _request_timeout=CONTENT_TIMEOUT)
        except Exception as exc:
            raise _error_from(exc) from exc
        headers = {k.lower(): v for k, v in (resp.headers or {}).items()}
        return bytes(resp.data or b""), headers.get("content-type")

    def reply(self, reply_token: str, messages: Sequence[Message]) -> None:
        try:
            self._api().reply_message(
                ReplyMessageRequest(reply_token=reply_token, messages=list(messages)),
                _request_timeout=self.timeout,
            )
        except Exception as exc:  # normalised for callers
            raise _error_from(exc) from exc

    def push(self, to: str, messages: Sequence[Message], retry_key: str | None = None) -> None:
        try:
            self._api().push_message(
                PushMessageRequest(to=to, messages=list(messages)),
                x_line_retry_key=retry_key,
                _request_timeout=self.timeout,
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    def multicast(self, to: Sequence[str], messages: Sequence[Message], retry_key: str) -> str | None:
        """Send to ≤500 users; returns LINE's request id (None when LINE says 409: already accepted)."""
        try:
            resp = self._api().multicast_with_http_info(
                MulticastRequest(to=list(to), messages=list(messages)),
                x_line_retry_key=retry_key,
                _request_timeout=self.timeout,
            )
            return (resp.headers or {}).get("x-line-request-id")
        except Exception as exc:
            err = _error_from(exc)
            if err.status == 409 and err.accepted_request_id:
                return None
            raise err from exc

    def profile(self, user_id: str) -> dict[str, Any] | None:
        """The user's profile (displayName, language — which may be absent); None if unknown."""
        try:
            prof = self._api().get_profile(user_id, _request_timeout=self.timeout)
        except Exception as exc:
            err = _error_from(exc)
            if err.status == 404:
                return None
            raise err from exc
        return {"display_name": prof.display_name, "language": prof.language}

    def start_loading(self, chat_id: str, seconds: int = 5) -> None:
        try:
            self._api().show_loading_animation(
                ShowLoadingAnimationRequest(chat_id=chat_id, loading_seconds=seconds),
                _request_timeout=self.timeout,
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    # --- rich menus (no retry keys here: LINE accepts X-Line-Retry-Key on sends only; every
    # call below is idempotent or checked by the caller) ---------------------------------

    def create_rich_menu(self, body: dict[str, Any]) -> str:
        try:
            return (
                self._api()
                .create_rich_menu(RichMenuRequest.from_dict(body), _request_timeout=self.timeout)
                .rich_menu_id
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    def set_rich_menu_image(self, rich_menu_id: str, image: bytes, content_type: str = "image/png") -> None:
        try:
            self._blob().set_rich_menu_image(
                rich_menu_id, image, _headers={"Content-Type": content_type}, _request_timeout=(3.05, 60)
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    def rich_menu_image(self, rich_menu_id: str) -> bytes:
        try:
            return bytes(self._blob().get_rich_menu_image(rich_menu_id, _request_timeout=self.timeout))
        except Exception as exc:
            raise _error_from(exc) from exc

    def rich_menus(self) -> list[dict[str, Any]]:
        """Every rich menu of the channel as LINE's JSON (richMenuId, name, size, chatBarText, areas)."""
        try:
            resp = self._api().get_rich_menu_list(_request_timeout=self.timeout)
        except Exception as exc:
            raise _error_from(exc) from exc
        return [m.to_dict() for m in resp.richmenus or []]

    def delete_rich_menu(self, rich_menu_id: str) -> None:
        try:
            self._api().delete_rich_menu(rich_menu_id, _request_timeout=self.timeout)
        except Exception as exc:
            err = _error_from(exc)
            if err.status != 404:  # already gone
                raise err from exc

    def default_rich_menu(self) -> str | None:
        try:
            return self._api().get_default_rich_menu_id(_request_timeout=self.timeout).rich_menu_id
        except Exception as exc:
            err = _error_from(exc)
            if err.status == 404:
                return None
            raise err from exc

    def set_default_rich_menu(self, rich_menu_id: str) -> None:
        try:
            self._api().set_default_rich_menu(rich_menu_id, _request_timeout=self.timeout)
        except Exception as exc:
            raise _error_from(exc) from exc

    def link_rich_menu(self, user_ids: Sequence[str], rich_menu_id: str) -> None:
        """Link ≤ 500 users to a menu (LINE applies bulk links asynchronously: 202)."""
        try:
            self._api().link_rich_menu_id_to_users(
                RichMenuBulkLinkRequest(rich_menu_id=rich_menu_id, user_ids=list(user_ids)),
                _request_timeout=self.timeout,
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    def unlink_rich_menu(self, user_ids: Sequence[str]) -> None:
        """Back to the account default for ≤ 500 users."""
        try:
            self._api().unlink_rich_menu_id_from_users(
                RichMenuBulkUnlinkRequest(user_ids=list(user_ids)), _request_timeout=self.timeout
            )
        except Exception as exc:
            raise _error_from(exc) from exc

    def rich_menu_of(self, user_id: str) -> str | None:
        try:
            return self._api().get_rich_menu_id_of_user(user_id, _request_timeout=self.timeout).rich_menu_id
        except Exception as exc:
            err = _error_from(exc)
            if err.status == 404:
                return None
            raise err from exc


def flex(alt_text: str, contents: dict[str, Any]) -> FlexMessage:
    """Build a Flex message from plain JSON (as designed in LINE's Flex simulator)."""
    return FlexMessage.from_dict({"type": "flex", "altText": alt_text[:400], "contents": contents})
