"""FAQ retrieval for questions in English, Chinese, Korean, Vietnamese and Portuguese.

Each language has its own TF-IDF space over the ``question_<lang>`` / ``answer_<lang>``
translation columns, with an analyzer that suits the language: English and Portuguese
words are lowercased, stripped of stop words and stemmed (Snowball); Chinese and Korean
are cut into character n-grams (no word spaces to trust); Vietnamese uses syllables and
syllable pairs, with and without diacritics (many people type without them). Entries with
no translation are still reachable through the Japanese index (Chinese shares kanji with
it), with a discount so a translated match wins.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np
import snowballstemmer
from sklearn.feature_extraction.text import TfidfVectorizer

from faq.index import FaqIndex, Hit
from faq.model import FaqEntry
from nlp.language import detect_language, to_simplified

ML_LANGS: tuple[str, ...] = ("en", "zh", "ko", "vi", "pt")
# Catalog languages that search another language's rows.
SEARCH_LANG = {"zh-Hant": "zh"}

W_WORD = 0.7  # language words (stems / syllables / n-grams)
W_CHAR = 0.3  # character 3-4-grams of the normalized text (typos, inflections)
W_ANSWER = 0.35  # answer text, soft-OR'ed onto the question row
ANSWER_CHARS = 500
JA_WEIGHT = {"zh": 0.85, "ko": 0.0, "en": 0.5, "vi": 0.5, "pt": 0.5}  # Japanese-index fallback
MAX_QUERY_CHARS = 1000

# Reply thresholds for these languages (tuned on eval/multilang_queries_dev.csv only).
THRESHOLDS: dict[str, dict[str, float]] = {
    "default": {"confident": 0.40, "suggest": 0.25, "margin": 0.08},
}

_STOP = {
    "en": frozenset(
        """a an the i me my we our you your he she it its they them their this that these those
        is are was were be been being am do does did doing have has had having can could will
        would shall should may might must to of in on at by for with from about into as or and
        but if so than then there here what which who whom how when where why please want need
        like get got just also some any there's i'm i've it's can't don't does not no yes
        hello hi thank thanks know tell ward midori""".split()
    ),
    "pt": frozenset(
        """a o as os um uma uns umas de do da dos das no na nos nas em por para pelo pela com sem
        e ou que se eu meu minha meus minhas você voce seu sua é e ser estar está esta são sao
        como onde quando qual quais quanto quero queria preciso posso pode fazer faço faco tem
        tenho há ha me mim isso isto esse essa favor por obrigado olá ola bom dia saber""".split()
    ),
    "vi": frozenset(
        """tôi toi của cua là la có co không khong được duoc như nhu thế the nào nao làm lam sao
        để de ở o đâu dau cho và va bạn ban em anh chị chi muốn muon cần can thì thi ạ a nhé nhe
        mình minh bị bi gì gi với voi này nay đó do hỏi hoi xin vui lòng long ơi oi""".split()
    ),
    "zh": frozenset("的了吗吗呢吧啊我你您他她们要想请问怎么样如何什哪里是在有可以能个一这那和与或"),
    "ko": frozenset(
        """어떻게 어디서 어디에 어디 언제 무엇 무엇을 뭐 뭐예요 뭔가요 좀 알려 알려주세요 주세요 싶어요 싶은데요
        하고 있나요 있어요 수 돼요 되나요 되요 하나요 해요 합니까 인가요 이에요 예요 저는 제가 제 저 나 내
        혹시 그리고 그냥 때 것 거 에 은 는 이 가 을 를 요 안녕하세요 미도리구""".split()
    ),
}

# Stem-level synonyms (after stemming): the resident's word → the FAQ's word.
_SYNONYMS = {
    "en": {
        "trash": "garbag",
        "rubbish": "garbag",
        "wast": "garbag",
        "couch": "sofa",
        "throw": "dispos",
        "rid": "dispos",
        "discard": "dispos",
        "dump": "dispos",
        "bulki": "larg",
        "oversiz": "larg",
        "big": "larg",
        "furnitur": "larg",
        "kid": "child",
        "children": "child",
        "babi": "child",
        "daycar": "nurseri",
        "kindergarten": "nurseri",
        "shelter": "evacu",
        "evacu": "evacu",
        "earthquak": "disast",
        "flood": "hazard",
        "address": "address",
        "relocat": "move",
        "id": "card",
        "mynumb": "number",
        "renew": "renew",
        "expir": "renew",
        "tax": "tax",
        "fee": "cost",
        "price": "cost",
        "much": "cost",
        "pension": "pension",
        "open": "hour",
        "close": "hour",
        "elder": "elder",
        "senior": "elder",
        "old": "elder",
        "parent": "elder",
        "insur": "insur",
        "stamp": "seal",
        "hanko": "seal",
        "inkan": "seal",
    },
    "pt": {
        "jog": "descart",
        "lix": "lix",
        "sofa": "sofá",
        "mud": "mud",
        "criança": "crianc",
        "filh": "crianc",
        "bebê": "crianc",
    },
}

# Case particles and the polite ending, stripped so 소파는 / 소파를 / 소파 meet.
_KO_PARTICLES = (
    "에서",
    "으로",
    "에게",
    "까지",
    "부터",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "에",
    "도",
    "로",
    "의",
    "요",
)
_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff0-9a-z]+")
_HANGUL_WORD_RE = re.compile(r"[\uac00-\ud7a3a-z0-9]+")


def _strip_accents(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower())


STEM_CACHE_WORDS = 50_000  # per language; bounded because residents' questions bring new words


class _Stemmed:
    def __init__(self, lang: str, algorithm: str) -> None:
        self.lang = lang
        self.stemmer = snowballstemmer.stemmer(algorithm)
        self.stop = _STOP[lang]
        self.synonyms = _SYNONYMS.get(lang, {})
        # The Snowball stemmer is pure Python and was most of a publish's index build, while an
        # FAQ's words repeat across entries, versions and questions: remember recent words.
        # It also keeps the word being stemmed in its own state, so answer threads take turns.
        self._stemmer_lock = threading.Lock()
        self._stem = functools.lru_cache(maxsize=STEM_CACHE_WORDS)(self._stem_uncached)

    def _stem_uncached(self, word: str) -> str:
        with self._stemmer_lock:
            return self.stemmer.stemWord(word)

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _words(text) if w not in self.stop and _strip_accents(w) not in self.stop]
        stems = [self._stem(w) for w in words]
        out = []
        for s in stems:
            s = self.synonyms.get(s, s)
            out.append(_strip_accents(s) if self.lang == "pt" else s)
        return out


def _zh_features(text: str) -> list[str]:
    text = to_simplified(unicodedata.normalize("NFKC", text).lower())
    out: list[str] = []
    for run in _HAN_RUN_RE.findall(text):
        chars = [c for c in run]
        out.extend(c for c in chars if c not in _STOP["zh"])
        out.extend(a + b for a, b in zip(chars, chars[1:], strict=False))
    return out


def _ko_features(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).lower())
    out: list[str] = []
    for word in _HANGUL_WORD_RE.findall(text):
        if word in _STOP["ko"]:
            continue
        for particle in _KO_PARTICLES:
            if word.endswith(particle) and len(word) - len(particle) >= 2:
                word = word[: -len(particle)]
                break
        # Syllables carry the stem across endings (버려요 / 버리나요 share 버).
        out.extend(word)
        out.extend(word[i : i + 2] for i in range(len(word) - 1))
        out.extend(word[i : i + 3] for i in range(len(word) - 2))
    return out


def _vi_features(text: str) -> list[str]:
    syll = [w for w in _words(unicodedata.normalize("NFC", text))]
    plain = [_strip_accents(w) for w in syll]
    keep = [i for i, w in enumerate(syll) if w not in _STOP["vi"]]
    out = ["~" + plain[i] for i in keep]
    out.extend("~" + plain[i] + "_" + plain[i + 1] for i in range(len(syll) - 1))
    out.extend(syll[i] for i in keep)
    return out


ANALYZERS: dict[str, Callable[[str], list[str]]] = {
    "en": _Stemmed("en", "english"),
    "pt": _Stemmed("pt", "portuguese"),
    "zh": _zh_features,
    "ko": _ko_features,
    "vi": _vi_features,
}


def _identity(x: list[str]) -> list[str]:
    return x


class _Channel:
    """One TF-IDF space over a language's rows (all zeros when it has no vocabulary)."""

    def __init__(self, vectorizer: TfidfVectorizer, docs: list) -> None:  # type: ignore[type-arg]
        self.vectorizer = vectorizer
        self.n = len(docs)
        try:
            self.matrix_t = vectorizer.fit_transform(docs).T.tocsr()
        except ValueError:  # empty vocabulary
            self.matrix_t = None

    def scores(self, doc: object) -> np.ndarray:
        if self.matrix_t is None:
            return np.zeros(self.n)
        q = self.vectorizer.transform([doc])
        if q.nnz == 0:
            return np.zeros(self.n)
        return np.asarray((q @ self.matrix_t).todense()).ravel()


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm="l2", dtype=np.float32)


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, norm="l2", dtype=np.float32)


def _char_text(lang: str, text: str) -> str:
    if lang in ("zh", "ko"):
        return ""
    return _strip_accents(unicodedata.normalize("NFKC", text).lower())


class _LangIndex:
    """One language's rows: the translated question (+ answer) of every translated entry."""

    def __init__(self, lang: str, entries: Sequence[FaqEntry]) -> None:
        self.lang = lang
        self.analyze = ANALYZERS[lang]
        self.entries = tuple(e for e in entries if (e.translations.get(lang) or {}).get("question"))
        questions = [e.translations[lang]["question"] for e in self.entries]
        answers = [(e.translations[lang].get("answer") or "")[:ANSWER_CHARS] for e in self.entries]
        self.words = _Channel(_word_vectorizer(), [self.analyze(q) for q in questions])
        self.chars = (
            _Channel(_char_vectorizer(), [_char_text(lang, q) for q in questions]) if lang not in ("zh", "ko") else None
        )
        self.answers = _Channel(_word_vectorizer(), [self.analyze(a) for a in answers])

    def scores(self, query: str) -> np.ndarray:
        if not self.entries:
            return np.zeros(0)
        feats = self.analyze(query)
        row = W_WORD * self.words.scores(feats)
        norm = W_WORD
        if self.chars is not None:
            row = row + W_CHAR * self.chars.scores(_char_text(self.lang, query))
            norm += W_CHAR
        best = row / norm
        ans = self.answers.scores(feats)
        return np.clip(best + W_ANSWER * ans * (1.0 - best), 0.0, 1.0)


class MultiLangIndex:
    """Per-language indexes over the translation columns of the FAQ."""

    def __init__(self) -> None:  # use MultiLangIndex.build()
        self._langs: dict[str, _LangIndex] = {}

    @classmethod
    def build(cls, entries: Sequence[FaqEntry], langs: Sequence[str] = ML_LANGS) -> MultiLangIndex:
        """Index the translations of ``entries`` for each language in ``langs``."""
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
            raise ValueError("MultiLangIndex.build() expects a sequence of FaqEntry")
        unknown = [lang for lang in langs if lang not in ANALYZERS]
        if unknown:
            raise ValueError(f"no analyzer for {unknown}; known: {sorted(ANALYZERS)}")
        self = cls()
        for lang in langs:
            self._langs[lang] = _LangIndex(lang, entries)
        return self

    def coverage(self) -> dict[str, int]:
        """How many entries each language can find directly."""
        return {lang: len(ix.entries) for lang, ix in self._langs.items()}

    def search(self, query: str, lang: str, k: int = 5) -> list[Hit]:
        """The ``k`` best translated entries for ``query`` in ``lang`` (zh-Hant searches zh)."""
        if not isinstance(query, str):
            raise ValueError(f"query must be str, not {type(query).__name__}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive int, not {k!r}")
        ix = self._langs.get(SEARCH_LANG.get(lang, lang))
        if ix is None or not ix.entries:
            return []
        scores = ix.scores(query[:MAX_QUERY_CHARS])
        order = np.argsort(-scores, kind="stable")[:k]
        return [Hit(ix.entries[i], float(scores[i])) for i in order if scores[i] > 0.0]


class MultilingualSearch:
    """Japanese index + translation indexes behind one `search(query, k, lang)`."""

    def __init__(self, ja: FaqIndex, ml: MultiLangIndex) -> None:
        self.ja = ja
        self.ml = ml

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        return self.ja.entries

    def get(self, id: str) -> FaqEntry | None:
        return self.ja.get(id)

    def __len__(self) -> int:
        return len(self.ja)

    def search(self, query: str, k: int = 5, lang: str | None = None) -> list[Hit]:
        """Rank entries for ``query``; ``lang`` defaults to the language the query is written in."""
        lang = lang or detect_language(query)
        search_lang = SEARCH_LANG.get(lang or "", lang)
        if search_lang not in ML_LANGS:
            return self.ja.search(query, k=k)
        best: dict[str, Hit] = {}
        for hit in self.ml.search(query, search_lang, k=max(k, 10)):
            best[hit.entry.id] = hit
        weight = JA_WEIGHT.get(search_lang, 0.0)
        if weight:
            for hit in self.ja.search(query, k=max(k, 10)):
                score = hit.score * weight
                if hit.entry.id not in best or best[hit.entry.id].score < score:
                    best[hit.entry.id] = Hit(hit.entry, score)
        ranked = sorted(best.values(), key=lambda h: (-h.score, h.entry.id))
        return ranked[:k]

    @staticmethod
    def thresholds(lang: str | None) -> dict[str, float]:
        """decide() thresholds for a query in ``lang`` ({} = the Japanese defaults)."""
        search_lang = SEARCH_LANG.get(lang or "", lang)
        if search_lang not in ML_LANGS:
            return {}
        return THRESHOLDS.get(search_lang or "", THRESHOLDS["default"])
