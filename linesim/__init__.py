"""linesim: a local stand-in for the LINE platform (Messaging API + webhook sender + chat page).

Messaging API (Bearer token checked, LINE-shaped errors, ``x-line-request-id`` on every response):
POST /v2/bot/message/{reply,push,multicast,broadcast,narrowcast}, GET /v2/bot/profile/<userId>,
POST /v2/bot/chat/loading/start, GET /v2/bot/message/quota[/consumption], GET /v2/bot/info.

Control (/_emulator/...): reply-tokens, faults, users, messages, delivery-counts, requests,
config, webhook, reset. Chat page: GET / or /chat.

Example:
    app = linesim.create_app("secret", "token", "http://127.0.0.1:8000/callback")
    python -m linesim --port 9100 --channel-secret S --access-token T --webhook-url URL
"""

from .app import create_app
from .events import make_event, sign

__all__ = ["create_app", "make_event", "sign"]
