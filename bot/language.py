"""The language to answer a resident in.

Order: a message clearly written in a language other than Japanese and other than the
resident's (an English question from a resident who chose 日本語 at registration gets
English) > the resident's own choice in 「設定」 > the language the message is clearly
written in > the LINE profile language (stored at follow) > Japanese. The chosen language
is kept in ``ctx.extra["chosen_lang"]``: an FAQ entry without a translation in the message's
language is answered in it (bot.handlers.chat), and notices always use it. The webhook must stay fast, so the profile API is
called only for a resident with no stored record, at most once per TTL per process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from common.i18n import DEFAULT_LANG, LANGUAGES
from nlp.language import detect_language
from store.residents import Resident, get_resident

log = logging.getLogger(__name__)

# LINE profile language codes (BCP 47 as the app reports them) → catalog languages.
_LINE_CODES = {
    "ja": "ja",
    "en": "en",
    "zh": "zh",
    "zh-hans": "zh",
    "zh-cn": "zh",
    "zh-sg": "zh",
    "zh-hant": "zh-Hant",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "ko": "ko",
    "vi": "vi",
    "pt": "pt",
    "pt-br": "pt",
    "pt-pt": "pt",
}
# The two Chinese scripts and the two Japanese registers are one family each: a message in
# the other member of the family does not switch the reply language.
_FAMILY = {"zh": "zh", "zh-Hant": "zh", "ja": "ja", "easy": "ja"}


def from_line_code(code: str | None) -> str:
    """Map a LINE profile language (`en`, `zh-Hant`, `pt-BR`, …) to a catalog language (default ja)."""
    if not code:
        return DEFAULT_LANG
    key = code.strip().replace("_", "-").lower()
    if key in _LINE_CODES:
        return _LINE_CODES[key]
    if key.startswith("zh-hant") or key.startswith("zh-tw") or key.startswith("zh-hk"):
        return "zh-Hant"
    base = key.split("-")[0]
    return _LINE_CODES.get(base, DEFAULT_LANG) if base != "zh" else "zh"


def normalize_lang(lang: str | None) -> str | None:
    """A catalog language for `lang` (accepts catalog names and LINE codes), None if unknown."""
    if not lang:
        return None
    if lang in LANGUAGES:
        return lang
    mapped = from_line_code(lang)
    return mapped if (mapped != DEFAULT_LANG or lang.lower().startswith("ja")) else None


def same_family(a: str, b: str) -> bool:
    return _FAMILY.get(a, a) == _FAMILY.get(b, b)


def message_language(text: str | None) -> str | None:
    """The catalog language a message is clearly written in, or None."""
    if not text:
        return None
    return detect_language(text)


def choose(choice: str | None, detected: str | None, profile: str | None) -> str:
    """Apply the order: clearly foreign message > choice > clearly different message language > profile > ja.

    A Japanese message from a resident who chose English stays English: residents who
    chose another language often type the Japanese word they know (住民票).
    """
    if choice:
        if detected and not same_family(detected, "ja") and not same_family(detected, choice):
            return detected
        return choice
    base = profile or DEFAULT_LANG
    if detected and not same_family(detected, base):
        return detected
    return base


class ProfileLanguageCache:
    """Small in-process LRU of profile languages for residents with no stored record."""

    def __init__(self, maxsize: int = 2048, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: str, fetch: Callable[[str], str | None]) -> str | None:
        now = self._clock()
        with self._lock:
            hit = self._data.get(user_id)
            if hit is not None and now - hit[0] < self.ttl:
                self._data.move_to_end(user_id)
                return hit[1]
        value = fetch(user_id)
        with self._lock:
            self._data[user_id] = (now, value)
            self._data.move_to_end(user_id)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._data.pop(user_id, None)


def _stored_resident(db: Any, user_id: str) -> Resident | None:
    return get_resident(db, user_id)


def _fetch_profile_language(line: Any) -> Callable[[str], str | None]:
    def fetch(user_id: str) -> str | None:
        try:
            profile = line.profile(user_id)
        except Exception as err:  # noqa: BLE001 - a failed lookup must not fail the webhook
            log.warning("profile lookup failed: %s", err)
            return None
        return from_line_code(profile.get("language")) if profile and profile.get("language") else None

    return fetch


def resident_languages(ctx: Any, cache: ProfileLanguageCache | None) -> tuple[str | None, str | None]:
    """(chosen language, profile language) of ctx's resident, from the stored record or a cached lookup."""
    if not ctx.user_id:
        return None, None
    record = _stored_resident(ctx.db, ctx.user_id)
    if record is not None:
        lang = normalize_lang(record.lang)
        if record.lang_source == "choice":
            return lang, None
        return None, lang
    if cache is None:
        return None, None
    return None, cache.get(ctx.user_id, _fetch_profile_language(ctx.line))


def event_text(event: Any) -> str | None:
    message = getattr(event, "message", None)
    if message is None or getattr(message, "type", None) != "text":
        return None
    return getattr(message, "text", None)


def language_for_event(ctx: Any, event: Any, cache: ProfileLanguageCache | None = None) -> str:
    """The language to reply to `event` in; also notes the message language in ctx.extra."""
    choice, profile = resident_languages(ctx, cache)
    detected = message_language(event_text(event))
    ctx.extra["message_lang"] = detected
    ctx.extra["profile_lang"] = profile
    ctx.extra["chosen_lang"] = choice
    return choose(choice, detected, profile)
