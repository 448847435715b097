"""Flask front of linesim: the Messaging API surface, /_emulator control routes, the chat page."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from flask import Flask, Response, render_template, request

from . import richmenu
from .events import make_event, sign
from .state import SEND_ENDPOINTS, FaultConfigError, SimState

MSG_AUTH = "Authentication failed. Confirm that the access token in the authorization header is valid."
LANGUAGES = ("ja", "easy", "en", "zh", "ko", "vi", "pt")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, headers=headers, content_type="application/json"
    )


def _api_error(message: str, status: int, details: list[dict] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return _json(body, status, {"x-line-request-id": str(uuid.uuid4())})


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def create_app(channel_secret: str, access_token: str, webhook_url: str | None = None) -> Flask:
    """Build the simulator app; its state is ``app.extensions["linesim"]`` (a SimState)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    sim = SimState(channel_secret, access_token, webhook_url)
    app.extensions["linesim"] = sim
    rich_menus = richmenu.register(app, sim.auth_header)

    def unauthorized() -> Response | None:
        if request.headers.get("Authorization") != sim.auth_header:
            return _api_error(MSG_AUTH, 401)
        return None

    # ----- Messaging API ---------------------------------------------------------------

    @app.post("/v2/bot/message/<endpoint>")
    def send_message(endpoint: str):
        if endpoint not in SEND_ENDPOINTS:
            return _api_error("Not found", 404)
        if (denied := unauthorized()) is not None:
            return denied
        delay = sim.latency_for(endpoint)
        if delay:
            time.sleep(delay)
        status, body, headers = sim.send(endpoint, request.get_data(), request.headers.get("X-Line-Retry-Key"))
        return _json(body, status, headers)

    @app.get("/v2/bot/profile/<user_id>")
    def get_profile(user_id: str):
        if (denied := unauthorized()) is not None:
            return denied
        profile = sim.profile(user_id)
        if profile is None:
            return _api_error("Not found", 404)
        return _json(profile, 200, {"x-line-request-id": str(uuid.uuid4())})

    @app.post("/v2/bot/chat/loading/start")
    def loading_start():
        if (denied := unauthorized()) is not None:
            return denied
        body = _body()
        details = []
        chat_id = body.get("chatId")
        seconds = body.get("loadingSeconds", 20)
        if not isinstance(chat_id, str) or not chat_id:
            details.append({"message": "Must not be empty", "property": "chatId"})
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 5 <= seconds <= 60 or seconds % 5:
            details.append({"message": "Must be a multiple of 5 between 5 and 60", "property": "loadingSeconds"})
        if details:
            return _api_error(f"The request body has {len(details)} error(s)", 400, details)
        sim.start_loading(chat_id, seconds)
        return _json({}, 202, {"x-line-request-id": str(uuid.uuid4())})

    @app.get("/v2/bot/message/quota")
    def quota():
        if (denied := unauthorized()) is not None:
            return denied
        return _json(sim.quota(), 200, {"x-line-request-id": str(uuid.uuid4())})

    @app.get("/v2/bot/message/quota/consumption")
    def quota_consumption():
        if (denied := unauthorized()) is not None:
            return denied
        return _json(sim.consumption(), 200, {"x-line-request-id": str(uuid.uuid4())})

    @app.get("/v2/bot/message/<message_id>/content")
    def message_content(message_id: str):
        # LINE serves this from its data host (api-data.line.me); the emulator serves both hosts.
        if (denied := unauthorized()) is not None:
            return denied
        status, data, content_type = sim.get_content(message_id)
        sim.log({"time": int(time.time() * 1000), "endpoint": "content", "status": status, "path": request.path})
        return Response(
            data, status=status, content_type=content_type, headers={"x-line-request-id": str(uuid.uuid4())}
        )

    @app.get("/v2/bot/info")
    def bot_info():
        if (denied := unauthorized()) is not None:
            return denied
        info = {
            "userId": sim.config["destination"],
            "basicId": "@linesim",
            "displayName": sim.config["bot_name"],
            "chatMode": "bot",
            "markAsReadMode": "auto",
        }
        return _json(info, 200, {"x-line-request-id": str(uuid.uuid4())})

    # ----- emulator control ---------------------------------------------------------

    @app.post("/_emulator/reply-tokens")
    def mint_reply_token():
        body = _body()
        return _json({"replyToken": sim.mint_reply_token(body.get("userId"), body.get("replyToken"))})

    @app.route("/_emulator/faults", methods=["GET", "POST", "DELETE"])
    def faults():
        if request.method == "GET":
            return _json(sim.get_faults())
        if request.method == "DELETE":
            return _json(sim.set_faults({}))
        try:
            return _json(sim.set_faults(_body(), replace=request.args.get("merge") != "1"))
        except FaultConfigError as exc:
            return _json({"error": str(exc)}, 400)

    @app.route("/_emulator/users", methods=["GET", "POST"])
    def users():
        if request.method == "GET":
            return _json({"users": sim.list_users()})
        body = _body()
        user_id = body.get("userId")
        if not isinstance(user_id, str) or not user_id:
            return _json({"error": "userId is required"}, 400)
        language = body.get("language")
        profile = sim.add_user(
            user_id, body.get("displayName"), language, body.get("pictureUrl"), body.get("statusMessage")
        )
        return _json(profile)

    @app.route("/_emulator/messages", methods=["GET", "DELETE"])
    def messages():
        if request.method == "DELETE":
            sim.reset_records()
            return _json({"ok": True})
        try:
            since = int(request.args.get("since", 0))
            limit = int(request.args["limit"]) if "limit" in request.args else None
        except ValueError:
            return _json({"error": "since and limit must be integers"}, 400)
        return _json(sim.messages(request.args.get("to"), since, limit, request.args.get("kind")))

    @app.route("/_emulator/content", methods=["POST"])
    @app.route("/_emulator/content/<message_id>", methods=["PUT"])
    def register_content(message_id: str | None = None):
        """Raw body = the content; `?fail=500,500` answers those statuses first. Returns the id."""
        try:
            fail = [int(x) for x in request.args.get("fail", "").split(",") if x.strip()]
        except ValueError:
            return _json({"error": "fail must be a comma-separated list of HTTP statuses"}, 400)
        content_type = request.content_type or "application/octet-stream"
        mid = sim.put_content(message_id, request.get_data(), content_type, fail)
        return _json({"messageId": mid})

    @app.get("/_emulator/delivery-counts")
    def delivery_counts():
        return _json(sim.delivery_counts())

    @app.get("/_emulator/requests")
    def requests_log():
        limit = request.args.get("limit", default=100, type=int)
        return _json({"requests": sim.requests(limit)})

    @app.post("/_emulator/reset")
    def reset():
        sim.reset_all()
        rich_menus.reset()
        return _json({"ok": True})

    @app.route("/_emulator/config", methods=["GET", "POST"])
    def config():
        if request.method == "POST":
            body = _body()
            for key in ("webhook_url", "bot_name", "webhook_timeout_s"):
                if key in body:
                    sim.config[key] = body[key]
        return _json(sim.config)

    @app.post("/_emulator/webhook")
    def send_webhook():
        body = _body()
        url = sim.config["webhook_url"]
        if not url:
            return _json({"error": "webhook_url is not configured (POST /_emulator/config)"}, 409)
        if isinstance(body.get("body"), str):
            raw = body["body"].encode("utf-8")  # verbatim redelivery of an earlier body
            events: list[dict] = []
        else:
            user_id = body.get("userId")
            if not isinstance(user_id, str) or not user_id:
                return _json({"error": "userId is required"}, 400)
            partials = body.get("events") if isinstance(body.get("events"), list) else [body.get("event") or {}]
            events = [_complete(sim, user_id, partial, body) for partial in partials]
            payload = {"destination": sim.config["destination"], "events": events}
            raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status, error = _post_webhook(url, raw, sign(sim.channel_secret, raw), float(sim.config["webhook_timeout_s"]))
        sim.log(
            {
                "time": int(time.time() * 1000),
                "endpoint": "webhook",
                "status": status,
                "events": [e.get("type") for e in events],
                "error": error,
            }
        )
        result: dict[str, Any] = {"status": status, "body": raw.decode("utf-8")}
        if events:
            result["event"] = events[0]
            result["events"] = events
        if error:
            result["error"] = error
            return _json(result, 502)
        return _json(result)

    # ----- chat page ---------------------------------------------------------------

    @app.get("/")
    @app.get("/chat")
    def chat():
        return render_template("chat.html", bot_name=sim.config["bot_name"], languages=LANGUAGES)

    app.wsgi_app = _FastSend(app.wsgi_app, sim)  # type: ignore[method-assign]
    return app


class _FastSend:
    """WSGI shortcut for POST /v2/bot/message/<send endpoint>: skips Flask routing and context.

    Benchmarks hammer these endpoints; the full Flask stack costs several times the simulator's
    own work. Behaviour is identical to the ``send_message`` view, which stays as the fallback.
    """

    _PREFIX = "/v2/bot/message/"

    def __init__(self, wsgi_app, sim: SimState):
        self.wsgi_app = wsgi_app
        self.sim = sim

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(self._PREFIX):
            return self.wsgi_app(environ, start_response)
        endpoint = path[len(self._PREFIX) :]
        if endpoint not in SEND_ENDPOINTS:
            return self.wsgi_app(environ, start_response)
        sim = self.sim
        if environ.get("HTTP_AUTHORIZATION") != sim.auth_header:
            status, body, headers = 401, {"message": MSG_AUTH}, {"x-line-request-id": str(uuid.uuid4())}
            sim.log({"time": int(time.time() * 1000), "endpoint": endpoint, "status": 401, "error": MSG_AUTH})
        else:
            delay = sim.latency_for(endpoint)
            if delay:
                time.sleep(delay)
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            raw = environ["wsgi.input"].read(length) if length > 0 else b""
            status, body, headers = sim.send(endpoint, raw, environ.get("HTTP_X_LINE_RETRY_KEY"))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        response_headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        response_headers.extend(headers.items())
        start_response(f"{status} {_REASONS.get(status, 'Error')}", response_headers)
        return [data]


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _complete(sim: SimState, user_id: str, partial: dict, options: dict) -> dict[str, Any]:
    """Apply the platform side effects of one user action and return the full event."""
    etype = partial.get("type", "message")
    is_unblocked = False
    if etype == "follow":
        is_unblocked = sim.follow(user_id, options.get("displayName"), options.get("language"))
    elif etype == "unfollow":
        sim.unfollow(user_id)
    reply_token = None
    if etype in ("message", "postback", "follow") and "replyToken" not in partial and partial.get("mode") != "standby":
        reply_token = sim.mint_reply_token(user_id, options.get("replyToken"))
    return make_event(
        user_id,
        partial,
        reply_token,
        redelivery=bool(options.get("redeliver")),
        webhook_event_id=options.get("webhookEventId"),
        is_unblocked=is_unblocked,
    )


def _post_webhook(url: str, raw: bytes, signature: str, timeout: float) -> tuple[int | None, str | None]:
    req = urllib.request.Request(
        url,
        data=raw,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": signature,
            "User-Agent": "LineBotWebhook/2.0",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status, None
    except urllib.error.HTTPError as exc:
        with exc:
            exc.read()
        return exc.code, None
    except (urllib.error.URLError, OSError) as exc:
        return None, f"webhook delivery failed: {exc}"
