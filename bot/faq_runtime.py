"""The published FAQ as this process serves it, swapped without downtime.

Every process keeps the index of the published version in memory. At most once per
`check_interval` seconds a request looks up the published version number (one cheap
SELECT); when it changed (publish or rollback by staff, possibly in another process),
a background thread builds the new index while the old one keeps answering, then
swaps it in atomically.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faq.csvio import load_faq_csv
from faq.index import FaqIndex
from faq.model import FaqEntry
from faq.multilang import ML_LANGS, SEARCH_LANG, MultiLangIndex, MultilingualSearch
from faq.semantic import EmbeddingCache, SemanticIndex, SemanticUnavailable
from faq.semantic import enabled as semantic_enabled
from faq.synonyms import Synonyms
from nlp.language import detect_language
from store import Store
from store import core as core_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    version: int
    index: FaqIndex
    # The Japanese index plus the per-language translation indexes (issue F).
    multi: MultilingualSearch | None = None

    def search(self, query: str, k: int = 5, lang: str | None = None, thorough: bool = True):
        """Hits for `query` written in `lang` (None/ja/easy: the Japanese index).

        ``thorough=False`` when the bot is busy: fewer query embeddings (FaqIndex.search).
        """
        if self.multi is None:
            return self.index.search(query, k=k, thorough=thorough)
        search_lang = lang or detect_language(query)
        if SEARCH_LANG.get(search_lang or "", search_lang) not in ML_LANGS:
            # Japanese: the index with its semantic stage (when attached).
            return self.index.search(query, k=k, thorough=thorough)
        # Other languages: the translation indexes, with the lexical-only Japanese index
        # their thresholds were tuned with (faq.multilang).
        return self.multi.search(query, k=k, lang=lang)


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
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        embeddings_dir: Path | None = None,
        semantic: bool | None = None,
    ):
        self.store = store
        self.faq_csv = faq_csv
        self.synonyms_csv = synonyms_csv
        self.check_interval = check_interval
        self._clock = clock
        self._current: Published | None = None
        self._checked_at = float("-inf")
        self._building: int | None = None
        self._lock = threading.Lock()
        self._synonyms: Synonyms | None = None
        # Semantic stage (faq.semantic): embeddings cached next to the SQLite file.
        self.semantic = semantic_enabled() if semantic is None else semantic
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
        index = FaqIndex.build(entries, synonyms=self.synonyms())
        multi = MultilingualSearch(index.lexical_view(), MultiLangIndex.build(entries))
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
        """Embed the entries in a background thread; the index answers lexically until then."""

        def work() -> None:
            started = time.perf_counter()
            try:
                cache = self._cache()
                before = cache.embedded
                index.attach_semantic(SemanticIndex.build(index.entries, cache))
                log.info(
                    "semantic stage for FAQ v%s ready: %d texts embedded in %.0f ms",
                    version,
                    cache.embedded - before,
                    (time.perf_counter() - started) * 1000,
                )
            except SemanticUnavailable as exc:
                log.warning("FAQ v%s stays lexical-only: %s", version, exc)
            except Exception:  # noqa: BLE001 - never take the lexical index down with it
                log.exception("semantic stage for FAQ v%s failed; lexical only", version)

        thread = threading.Thread(target=work, name=f"faq-semantic-v{version}", daemon=True)
        self._semantic_threads = [t for t in self._semantic_threads if t.is_alive()] + [thread]
        thread.start()

    def wait_semantic(self, timeout: float = 60.0) -> bool:
        """Test/bench helper: wait until the background embedding work has finished."""
        deadline = time.monotonic() + timeout
        for thread in list(self._semantic_threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._semantic_threads)

    def current(self) -> Published:
        """The index to answer with now (blocks only when the process has none yet)."""
        now = self._clock()
        cur = self._current
        if cur is not None and now - self._checked_at < self.check_interval:
            return cur
        self._checked_at = now
        version = core_store.published_faq_version(self.store.db)
        if version is None:
            seed_if_empty(self.store, self.faq_csv)
            version = core_store.published_faq_version(self.store.db)
        if cur is None:
            with self._lock:
                if self._current is None or self._current.version != version:
                    self._current = self.build(version)
                return self._current
        if version != cur.version:
            self._swap_in_background(version)
        return cur

    def _swap_in_background(self, version: int) -> None:
        with self._lock:
            if self._building == version:
                return
            self._building = version

        def work() -> None:
            try:
                published = self.build(version)
                with self._lock:
                    self._current = published
            except Exception:  # noqa: BLE001 - keep serving the old version
                log.exception(
                    "building FAQ index v%s failed; still serving v%s",
                    version,
                    self._current.version if self._current else None,
                )
            finally:
                with self._lock:
                    self._building = None

        threading.Thread(target=work, name=f"faq-index-v{version}", daemon=True).start()

    def wait_for(self, version: int, timeout: float = 30.0) -> bool:
        """Test/CLI helper: wait until this process serves `version`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._checked_at = float("-inf")
            if self.current().version == version:
                return True
            time.sleep(0.05)
        return False
