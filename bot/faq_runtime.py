"""The published FAQ as this process serves it, and the one ranking every caller uses.

Every process keeps the index of the published version in memory. Before a question is
answered, the published version number is read (one primary-key SELECT, at most once per
`check_interval` seconds; 0 = every question); when it changed (publish or rollback by
staff, possibly in another process) the new index is built right then, so the first
question after a publish is answered by it — the console promises 「数秒で」. Requests
arriving during that build wait for the same build instead of starting their own.
Embeddings of the new version's texts are reused from the cache; a rollback or a small
edit has (almost) nothing new to embed and gets its semantic stage inline, a large upload
embeds in the background (lexical answers meanwhile), and that job stops as soon as
another version is published (a superseded FAQ must not keep a core busy).

`Published.rank` is what the live bot and the staff tool `faq ask` both call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from faq.csvio import load_faq_csv
from faq.decide import Decision, decide
from faq.index import FaqIndex, Hit
from faq.model import FaqEntry
from faq.multilang import ML_LANGS, SEARCH_LANG, MultiLangIndex, MultilingualSearch
from faq.semantic import QUERY_CACHE_SIZE, EmbeddingCache, EmbeddingCancelled, SemanticIndex, SemanticUnavailable
from faq.synonyms import Synonyms
from nlp.language import detect_language
from store import Store
from store import core as core_store

log = logging.getLogger(__name__)

# A new version with at most this many texts missing from the embedding cache gets its
# semantic stage before it answers (~30-60 ms per text on one core): a rollback (0 new
# texts) or a console edit (a few) answers its first question exactly as it will later.
INLINE_EMBED_MAX = 12
INLINE_WAIT_SECONDS = 1.0  # ... unless the engine stays busy longer: then in the background
STALE_CHECK_SECONDS = 5.0  # how often a background embedding job asks whether its version is still wanted
BUILD_RETRY_SECONDS = 30.0  # a version whose index cannot be built is retried this often, not per question


@dataclass(frozen=True)
class Ranking:
    """Hits best first, the reply kind decided on them, and the language searched in."""

    hits: list[Hit]
    decision: Decision
    lang: str | None


@dataclass(frozen=True)
class Published:
    version: int
    index: FaqIndex
    # The Japanese index plus the per-language translation indexes.
    multi: MultilingualSearch | None = None

    def search(self, query: str, k: int = 5, lang: str | None = None, thorough: bool = True):
        """Hits for `query` written in `lang` (None/ja/easy: the Japanese index).

        ``thorough=False`` when the bot is busy: fewer query embeddings (FaqIndex.search).
        """
        # NFKC before anything looks at the text: half-width katakana (ﾏｲﾅﾝﾊﾞｰ) otherwise
        # reaches the language detector and the embedding model as different characters.
        query = unicodedata.normalize("NFKC", query)
        if self.multi is None:
            return self.index.search(query, k=k, thorough=thorough)
        search_lang = lang or detect_language(query)
        if SEARCH_LANG.get(search_lang or "", search_lang) not in ML_LANGS:
            # Japanese: the index with its semantic stage (when attached).
            return self.index.search(query, k=k, thorough=thorough)
        # Other languages: the translation indexes, with the lexical-only Japanese index
        # their thresholds were tuned with (faq.multilang).
        return self.multi.search(query, k=k, lang=lang)

    def rank(self, query: str, k: int = 5, lang: str | None = None, thorough: bool = True) -> Ranking:
        """Ranked hits and the reply decision for `query`: the live bot and `faq ask` both call this."""
        search_lang = lang or detect_language(unicodedata.normalize("NFKC", query))
        hits = self.search(query, k=k, lang=search_lang, thorough=thorough)
        return Ranking(hits, decide(hits, **MultilingualSearch.thresholds(search_lang)), search_lang)


# Lexical indexes this process built, by content: a rollback to the version served a moment
# ago (the emergency action after a bad publish) answers without tokenizing and fitting the
# FAQ again, and so does a second app in one process (tests, a CLI command beside the app).
# Two slots: the version served and the one before it. Each Published gets its own view,
# so attaching a semantic stage to one never changes another.
LEXICAL_CACHE_SLOTS = 2
_lexical: OrderedDict[str, tuple[FaqIndex, MultiLangIndex]] = OrderedDict()
_lexical_lock = threading.Lock()


def _content_key(entries: Sequence[FaqEntry], synonyms: Synonyms | None) -> str:
    content = {
        "entries": [e.to_dict() for e in entries],
        "synonyms": sorted(synonyms.mapping.items()) if synonyms is not None else None,
    }
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def lexical_indexes(entries: Sequence[FaqEntry], synonyms: Synonyms | None) -> tuple[FaqIndex, MultiLangIndex]:
    """The Japanese index (without a semantic stage, for this caller alone) and the translation indexes."""
    key = _content_key(entries, synonyms)
    with _lexical_lock:
        built = _lexical.get(key)
        if built is not None:
            _lexical.move_to_end(key)
    if built is None:
        built = (FaqIndex.build(entries, synonyms=synonyms), MultiLangIndex.build(entries))
        with _lexical_lock:
            _lexical[key] = built
            while len(_lexical) > LEXICAL_CACHE_SLOTS:
                _lexical.popitem(last=False)
    index, multi = built
    return index.lexical_view(), multi


def seed_if_empty(store: Store, faq_csv: Path) -> int | None:
    """Publish `faq_csv` as version 1 when the database has no published FAQ yet."""
    with store.exclusive() as db:
        if core_store.published_faq_version(db) is not None:
            return None
        entries = load_faq_csv(faq_csv)
        version = core_store.create_faq_version(
            db, [e.to_dict() for e in entries], created_by="system", source_name=faq_csv.name, publish=True
        )
        log.info("seeded FAQ version %s from %s (%d entries)", version, faq_csv.name, len(entries))
        return version


class FaqRuntime:
    def __init__(
        self,
        store: Store,
        faq_csv: Path,
        synonyms_csv: Path | None = None,
        check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        embeddings_dir: Path | None = None,
        semantic: bool = True,
        query_cache: int = QUERY_CACHE_SIZE,
    ):
        self.store = store
        self.faq_csv = faq_csv
        self.synonyms_csv = synonyms_csv
        self.check_interval = check_interval
        self._clock = clock
        self._current: Published | None = None
        self._checked_at = float("-inf")
        self._wanted: int | None = None  # the version this process serves or is building
        self._failed: tuple[int, float] | None = None  # (version, when) of a build that raised
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._synonyms: Synonyms | None = None
        # Semantic stage (faq.semantic): embeddings cached next to the SQLite file.
        self.semantic = semantic  # MADOGUCHI_SEMANTIC
        self.query_cache = query_cache  # MADOGUCHI_QUERY_CACHE
        if embeddings_dir is None and getattr(store, "path", None) is not None:
            embeddings_dir = Path(store.path).parent / "embeddings"
        self.embeddings_dir = embeddings_dir
        self._embedding_cache: EmbeddingCache | None = None
        self._semantic_threads: list[threading.Thread] = []

    def synonyms(self) -> Synonyms | None:
        if self._synonyms is None and self.synonyms_csv is not None and self.synonyms_csv.exists():
            self._synonyms = Synonyms.load(self.synonyms_csv)
        return self._synonyms

    def build(self, version: int) -> Published:
        entries = [FaqEntry.from_dict(d) for d in core_store.faq_version_entries(self.store.db, version)]
        started = time.perf_counter()
        index, translations = lexical_indexes(entries, self.synonyms())
        multi = MultilingualSearch(index.lexical_view(), translations)
        log.info(
            "built FAQ index v%s: %d entries in %.0f ms", version, len(entries), (time.perf_counter() - started) * 1000
        )
        if self.semantic:
            self._attach_semantic(version, index)
        return Published(version, index, multi)

    def _cache(self) -> EmbeddingCache:
        with self._lock:
            if self._embedding_cache is None:
                self._embedding_cache = EmbeddingCache(self.embeddings_dir)
            return self._embedding_cache

    def _attach_semantic(self, version: int, index: FaqIndex) -> None:
        """Attach the semantic stage: inline when (almost) everything is cached, else in the background."""
        checked = [time.monotonic()]

        def stale() -> bool:
            if self._wanted is not None and self._wanted != version:
                return True
            # A worker without traffic learns of a newer publish from the database too.
            if time.monotonic() - checked[0] >= STALE_CHECK_SECONDS:
                checked[0] = time.monotonic()
                published = core_store.published_faq_version(self.store.db)
                return published is not None and published != version
            return False

        def work(wait: float | None = None) -> None:
            started = time.perf_counter()
            cache = self._cache()
            before = cache.embedded
            index.attach_semantic(
                SemanticIndex.build(index.entries, cache, should_stop=stale, wait=wait, query_cache=self.query_cache)
            )
            log.info(
                "semantic stage for FAQ v%s ready: %d texts embedded in %.0f ms",
                version,
                cache.embedded - before,
                (time.perf_counter() - started) * 1000,
            )

        def background() -> None:
            try:
                work()
            except EmbeddingCancelled:
                log.info("semantic stage for FAQ v%s stopped: another version was published", version)
            except SemanticUnavailable as exc:
                log.warning("FAQ v%s stays lexical-only: %s", version, exc)
            except Exception:  # never take the lexical index down with it
                log.exception("semantic stage for FAQ v%s failed; lexical only", version)

        try:
            if self._cache().missing(SemanticIndex.texts(index.entries)) <= INLINE_EMBED_MAX:
                work(wait=INLINE_WAIT_SECONDS)
                return
        except SemanticUnavailable:
            pass  # the engine is busy or off: the background job tries (and logs) properly
        except Exception:  # same: never fail the lexical index
            log.exception("inline semantic stage for FAQ v%s failed; trying in the background", version)
        thread = threading.Thread(target=background, name=f"faq-semantic-v{version}", daemon=True)
        self._semantic_threads = [t for t in self._semantic_threads if t.is_alive()] + [thread]
        thread.start()

    def wait_semantic(self, timeout: float = 60.0) -> bool:
        """Test/CLI helper: wait until the background embedding work has finished."""
        deadline = time.monotonic() + timeout
        for thread in list(self._semantic_threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._semantic_threads)

    def current(self) -> Published:
        """The index to answer with now: the published version, built before it answers."""
        now = self._clock()
        cur = self._current
        if cur is not None and now - self._checked_at < self.check_interval:
            return cur
        self._checked_at = now
        version = core_store.published_faq_version(self.store.db)
        if version is None:
            seed_if_empty(self.store, self.faq_csv)
            version = core_store.published_faq_version(self.store.db)
        if cur is not None and cur.version == version:
            return cur
        failed = self._failed
        if cur is not None and failed is not None and failed[0] == version and now - failed[1] < BUILD_RETRY_SECONDS:
            return cur
        with self._build_lock:
            cur = self._current
            if cur is None or cur.version != version:
                self._wanted = version  # a background embedding job of another version stops
                try:
                    self._current = self.build(version)
                except Exception:
                    if cur is None:
                        raise
                    # Keep answering with what we have and try again a little later.
                    log.exception("building FAQ index v%s failed; still serving v%s", version, cur.version)
                    self._wanted = cur.version
                    self._failed = (version, now)
                    return cur
            return self._current

    def wait_for(self, version: int, timeout: float = 30.0) -> bool:
        """Test/CLI helper: wait until this process serves `version`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._checked_at = float("-inf")
            if self.current().version == version:
                return True
            time.sleep(0.05)
        return False

    # --- what /healthz reports (through the answer workers' heartbeat) ----------------------

    def serving_version(self) -> int | None:
        cur = self._current
        return cur.version if cur is not None else None

    def semantic_state(self) -> str:
        """`off` (switched off), `embedding` (answers are lexical until it ends), `ready`,
        `lexical_only` (the model could not be loaded) or `not_loaded` (no FAQ built yet)."""
        if not self.semantic:
            return "off"
        if any(t.is_alive() for t in self._semantic_threads):
            return "embedding"
        cur = self._current
        if cur is None:
            return "not_loaded"
        return "ready" if cur.index.semantic is not None else "lexical_only"
