"""Message catalog: every string a resident sees, per language.

Code asks `t(key, lang, **fields)`; no resident-visible literal lives in handlers. Each
domain keeps its strings in its own module here (`core`, `residents`, `shelters`,
`alerts`) as MESSAGES = {lang: {key: text}}. A key missing in a language falls back
to やさしい日本語, then Japanese (tests check that none is missing).
"""

from __future__ import annotations

import importlib

DEFAULT_LANG = "ja"
# ja, やさしい日本語, English, 简体中文, 繁體中文, 한국어, Tiếng Việt, Português
LANGUAGES = ("ja", "easy", "en", "zh", "zh-Hant", "ko", "vi", "pt")
# The language vocabulary has two registers. Residents pick from each language's name in itself
# (someone who reads only Vietnamese must find "Tiếng Việt"); staff read Japanese names everywhere in
# the console and the CLI (a clerk cannot be expected to read 한국어).
LANGUAGE_NAMES = {
    "ja": "日本語",
    "easy": "やさしい日本語",
    "en": "English",
    "zh": "简体中文",
    "zh-Hant": "繁體中文",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "pt": "Português",
}
LANGUAGE_NAMES_JA = {
    "ja": "日本語",
    "easy": "やさしい日本語",
    "en": "英語",
    "zh": "中国語（簡体字）",
    "zh-Hant": "中国語（繁体字）",
    "ko": "韓国語",
    "vi": "ベトナム語",
    "pt": "ポルトガル語",
}
CATALOG_MODULES = (
    "common.i18n.core",
    "common.i18n.residents",
    "common.i18n.shelters",
    "common.i18n.alerts",
    "common.i18n.reports",
    "common.i18n.garbage",
    "common.i18n.bulky",
    "common.i18n.richmenu",
    "common.i18n.listening",
    "common.i18n.inbox",
)


def _load() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for name in CATALOG_MODULES:
        module = importlib.import_module(name)
        for lang, messages in module.MESSAGES.items():
            bucket = merged.setdefault(lang, {})
            for key, text in messages.items():
                if key in bucket:
                    raise ValueError(f"catalog key {key!r} ({lang}) defined twice")
                bucket[key] = text
    return merged


CATALOG = _load()


def t(key: str, lang: str = DEFAULT_LANG, **fields: object) -> str:
    """The catalog text for `key` in `lang` (falling back to easy, then ja), formatted."""
    for candidate in (lang, "easy", DEFAULT_LANG):
        text = CATALOG.get(candidate, {}).get(key)
        if text is not None:
            return text.format(**fields) if fields else text
    raise KeyError(f"message catalog has no key {key!r}")
