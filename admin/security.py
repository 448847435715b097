"""Passwords, server-side sessions, login rate limits, CSRF and role checks for the console."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from sqlite_utils import Database

from store import admin as admin_store

MIN_PASSWORD_LENGTH = 12
IDLE_TIMEOUT = 30 * 60
ABSOLUTE_TIMEOUT = 12 * 60 * 60
RATE_WINDOW = 60.0
MAX_FAILED_PER_ACCOUNT = 10  # the 11th attempt within RATE_WINDOW is refused, right or wrong
MAX_FAILED_PER_IP = 30
COOKIE_NAME = "madoguchi_admin"

# scrypt cost: n=2**15, r=8, p=1 (~32 MiB, ~50-100 ms) — OWASP's minimum is n=2**17 with r=8/p=1
# or an equivalent; 2**15 keeps login snappy on a small VM while staying far from brute-forceable
# with the length rule and the common-password list.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_DKLEN = 32


class PasswordRejected(ValueError):
    """A new password does not meet the rules (the message is shown to the user, in Japanese)."""


class LoginRefused(Exception):
    """Wrong name/password, disabled account, or too many attempts (`throttled`)."""

    def __init__(self, throttled: bool = False):
        super().__init__("throttled" if throttled else "invalid credentials")
        self.throttled = throttled


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, user_name: str = "") -> None:
    """Raise PasswordRejected unless the password is long enough and not a common one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。")
    lowered = password.lower()
    if lowered in common_passwords():
        raise PasswordRejected("よく使われるパスワードです。別のパスワードにしてください。")
    if user_name and user_name.lower() in lowered:
        raise PasswordRejected("ユーザー名を含むパスワードは使えません。")
    if len(set(password)) < 4:
        raise PasswordRejected("同じ文字の繰り返しが多すぎます。")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_DKLEN, maxmem=2**26
    )
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A hash to verify against when the account does not exist, so timing does not reveal names.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def session_key(token: str) -> str:
    """The stored id of a session: a hash, so a copy of the database does not hold live cookies."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def authenticate(db: Database, name: str, password: str, ip: str, now: float) -> admin_store.User:
    """Check a login, counting failures per account and per IP; raise LoginRefused."""
    account = name.strip()[:100]
    since = now - RATE_WINDOW
    if (
        admin_store.failed_attempts_since(db, since, account=account) >= MAX_FAILED_PER_ACCOUNT
        or admin_store.failed_attempts_since(db, since, ip=ip) >= MAX_FAILED_PER_IP
    ):
        admin_store.record_login_attempt(db, account, ip, ok=False, now=now)
        raise LoginRefused(throttled=True)
    user = admin_store.find_user(db, account)
    ok = verify_password(password, user.password_hash if user else _dummy_hash())
    if user is None or user.disabled or not ok:
        admin_store.record_login_attempt(db, account, ip, ok=False, now=now)
        raise LoginRefused()
    admin_store.record_login_attempt(db, account, ip, ok=True, now=now)
    return user


def start_session(db: Database, user: str, ip: str, now: float) -> tuple[str, str]:
    """Create a fresh server-side session; returns (cookie token, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    admin_store.create_session(db, session_key(token), user, csrf, now, ip)
    admin_store.prune_sessions(db, idle_before=now - IDLE_TIMEOUT, created_before=now - ABSOLUTE_TIMEOUT)
    admin_store.prune_login_attempts(db, before=now - 86400)
    return token, csrf


def load_session(db: Database, token: str | None, now: float) -> dict | None:
    """The live session for a cookie token, or None (expired sessions are deleted)."""
    if not token or len(token) > 200:
        return None
    key = session_key(token)
    row = admin_store.get_session(db, key)
    if row is None:
        return None
    if row["disabled"] or now - row["last_seen"] > IDLE_TIMEOUT or now - row["created_at"] > ABSOLUTE_TIMEOUT:
        admin_store.delete_session(db, key)
        return None
    if now - row["last_seen"] > 15:  # avoid a write per request
        admin_store.touch_session(db, key, now)
    row["key"] = key
    return row


def end_session(db: Database, token: str | None) -> None:
    if token:
        admin_store.delete_session(db, session_key(token))


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def now_fn(config: dict) -> Callable[[], float]:
    """The console's clock (tests put a callable in config['ADMIN_CLOCK'])."""
    return config.get("ADMIN_CLOCK") or time.time
