"""The pseudonym of a LINE user id in logs and audit entries (a salted hash: never the id itself)."""

from __future__ import annotations

import hashlib


def hash_user(user_id: str | None, salt: str) -> str:
    if not user_id:
        return "-"
    return hashlib.sha256((salt + user_id).encode()).hexdigest()[:12]
