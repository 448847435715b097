"""Staff accounts: passwords, server-side sessions, login rate limits, CSRF and role checks. Used by
the console (admin/) and the CLI (commands/): a command hashing a password loads no console page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from sqlite_utils import Database

from store import admin as admin_store
from store import audit as audit_store

MIN_PASSWORD_LENGTH = 12
IDLE_TIMEOUT = 30 * 60
ABSOLUTE_TIMEOUT = 12 * 60 * 60
# Wrong passwords cost time, never a lock: an account's first 5 are free, then the next attempt
# waits 2 s, 4 s, … up to 15 minutes (about 100 guesses a day for an attacker, a few seconds
# for a clerk who mistypes). Attempts made while waiting are refused without being counted.
ACCOUNT_BACKOFF = admin_store.Backoff(free=5, base=2.0, cap=900.0, forget_after=3600.0)
# Per client address, generous: behind one proxy or NAT a whole office shares an address, and
# another clerk's typos must not keep anyone out; it stops one address spraying many names.
IP_BACKOFF = admin_store.Backoff(free=100, base=2.0, cap=300.0, forget_after=3600.0)
COOKIE_NAME = "madoguchi_admin"

# scrypt cost: n=2**15, r=8, p=1 (~32 MiB, ~50-100 ms) — OWASP's minimum is n=2**17 with r=8/p=1
# or an equivalent; 2**15 keeps login snappy on a small VM while staying far from brute-forceable
# with the length rule and the common-password list.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_DKLEN = 32


ROLE_LABELS = {
    "admin": "管理者",
    "staff": "職員（FAQ）",
    "operator": "運用担当（避難所・配信作成）",
    "approver": "承認者",
}

# Account names are plain ASCII so that two names that look the same are the same name (a
# Cyrillic "ор1" once approved "op1"'s alert). Stored lower case; NFKC folds full-width letters.
USERNAME_RULE = "ユーザー名は半角の英数字と - _ . で64文字まで（英字は小文字になります）にしてください。"
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Names the CLI writes for "someone at the server" or the system itself; never an account.
RESERVED_NAMES = frozenset({"cli", "system"})


class NameRejected(ValueError):
    """A user name breaks the ASCII rule (the message is shown to the user, in Japanese)."""


def clean_username(name: str) -> str:
    """The stored form of a user name (NFKC, stripped, lower case); raise NameRejected."""
    folded = unicodedata.normalize("NFKC", name or "").strip().casefold()
    if not folded.isascii() or not _USERNAME_RE.fullmatch(folded):
        raise NameRejected(USERNAME_RULE)
    return folded


class PasswordRejected(ValueError):
    """A new password does not meet the rules (the message is shown to the user, in Japanese)."""


class LoginRefused(Exception):
    """Wrong name/password, disabled account, or too many attempts (`wait` seconds > 0).

    `actor` names the account for the audit log: an existing account's name, or
    audit_store.UNKNOWN_ACCOUNT (what was typed is never kept: it may be a password).
    """

    def __init__(self, actor: str, wait: float = 0.0):
        super().__init__("throttled" if wait > 0 else "invalid credentials")
        self.actor = actor
        self.wait = wait

    @property
    def throttled(self) -> bool:
        return self.wait > 0


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


def _throttle_key(kind: str, value: str, salt: str) -> str:
    """A keyed hash, so the throttle table holds neither typed names nor addresses."""
    return kind + ":" + hmac.new(salt.encode(), value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name or "").strip().casefold()[:100]


def lookup_user(db: Database, name: str) -> admin_store.User | None:
    """The account a login names: exact, else folded like new names (NFKC, lower case)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        return None
    return admin_store.find_user(db, name) or (
        admin_store.find_user(db, _folded(name)) if _folded(name) != name else None
    )


def authenticate(db: Database, name: str, password: str, ip: str, now: float, salt: str = "") -> admin_store.User:
    """Check a login under per-address and per-account backoff; raise LoginRefused.

    Both counters are charged before the password is checked (atomically, in the database), so
    concurrent attempts from any number of processes cannot check more passwords than allowed.
    """
    user = lookup_user(db, name)
    actor = user.name if user is not None else audit_store.UNKNOWN_ACCOUNT
    ip_key = _throttle_key("ip", ip, salt)
    account_key = _throttle_key("account", _folded(name), salt)
    wait = admin_store.claim_login_attempt(db, ip_key, now, IP_BACKOFF)
    if wait:
        raise LoginRefused(actor, wait)
    wait = admin_store.claim_login_attempt(db, account_key, now, ACCOUNT_BACKOFF)
    if wait:
        admin_store.refund_login_attempt(db, ip_key)  # a refused attempt is no failure of the address
        raise LoginRefused(actor, wait)
    ok = verify_password(password, user.password_hash if user else _dummy_hash())
    if user is None or user.disabled or not ok:
        prune_throttle(db, now)
        raise LoginRefused(actor)
    admin_store.forget_login_failures(db, account_key)
    admin_store.refund_login_attempt(db, ip_key)
    return user


def prune_throttle(db: Database, now: float) -> None:
    """Forget counters nobody has touched for a while (names sprayed by a guesser included)."""
    forget = max(ACCOUNT_BACKOFF.forget_after, IP_BACKOFF.forget_after)
    admin_store.prune_login_throttle(db, before=now - forget, now=now)


def start_session(db: Database, user: str, ip: str, now: float) -> tuple[str, str]:
    """Create a fresh server-side session; returns (cookie token, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    admin_store.create_session(db, session_key(token), user, csrf, now, ip)
    admin_store.prune_sessions(db, idle_before=now - IDLE_TIMEOUT, created_before=now - ABSOLUTE_TIMEOUT)
    prune_throttle(db, now)
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


# --- who a CLI command acts as (`--by`) ------------------------------------------------------------

# The roles that may do what the CLI does (admin may do everything), as on the console's routes.
ACTOR_ROLES: dict[str, frozenset[str]] = {
    "alert.create": frozenset({"operator"}),
    "alert.lift": frozenset({"operator"}),
    "alert.cancel": frozenset({"operator", "approver"}),
    "alert.approve": frozenset({"approver"}),
    "alert.send": frozenset({"approver"}),
    "alert.testers": frozenset({"operator", "approver"}),
    "shelters.status": frozenset({"operator"}),
    "shelters.import": frozenset({"operator"}),
    "faq.publish": frozenset({"staff"}),
    "garbage.import": frozenset({"staff"}),
    "survey.create": frozenset({"staff", "operator"}),
    "survey.approve": frozenset({"approver"}),
    "survey.send": frozenset({"approver"}),
    "survey.close": frozenset({"staff", "operator"}),
}
# The second person of the two-person rule must be a real approver account, always.
NEEDS_ACCOUNT = frozenset({"alert.approve", "survey.approve"})
# Commands whose --by defaults to "cli" (someone at the server, named as such).
UNNAMED_OK = frozenset({"alert.send", "survey.send", "shelters.import", "faq.publish", "garbage.import"})
CLI_ACTOR = "cli"


class ActorRefused(ValueError):
    """`--by` does not name an account that may do this (the message is shown in Japanese)."""


def check_actor(db: Database, by: str, action: str) -> str:
    """The name a CLI command acts as; raise ActorRefused.

    Once any console account exists, `--by` must name an enabled account whose role may do
    `action`. Before the first account exists (a fresh, CLI-only install) any name that follows
    the ASCII rule is accepted as written, except for approval, which always needs an approver
    account different from the author (the author check is the alert service's).
    """
    allowed = ACTOR_ROLES[action]
    if by == CLI_ACTOR and action in UNNAMED_OK:
        return by
    try:
        name = clean_username(by)
    except NameRejected:
        raise ActorRefused(f"--by {by!r}: {USERNAME_RULE}") from None
    user = admin_store.find_user(db, name)
    roles = "・".join(ROLE_LABELS[r] for r in sorted(allowed)) + "・管理者"
    if user is None:
        if action not in NEEDS_ACCOUNT and not admin_store.has_users(db):
            return name
        raise ActorRefused(
            f"--by {name}: そのアカウントはありません。この操作は{roles}のアカウントで行います"
            f"（作成: flask --app webhook users create {name} --role {sorted(allowed)[0]}）。"
        )
    if user.disabled:
        raise ActorRefused(f"--by {name}: このアカウントは無効になっています。")
    if user.role != "admin" and user.role not in allowed:
        raise ActorRefused(
            f"--by {name}: {ROLE_LABELS.get(user.role, user.role)}のアカウントではこの操作はできません（{roles}）。"
        )
    return user.name


def now_fn(config: dict) -> Callable[[], float]:
    """The console's clock (tests put a callable in config['ADMIN_CLOCK'])."""
    return config.get("ADMIN_CLOCK") or time.time
