"""linesim: a local stand-in for the LINE platform (Messaging API + webhook sender + chat page).

Example:
    app = linesim.create_app("secret", "token", "http://127.0.0.1:8000/callback")
"""

from .app import create_app
from .events import make_event, sign

__all__ = ["create_app", "make_event", "sign"]
