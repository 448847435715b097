"""FAQ retrieval: TF-IDF over Sudachi word features fused with character n-grams.

Each entry is represented by several rows (its question and each alternate); an entry's
score is its best row's fused cosine similarity, plus a small contribution from its answer.
Cosine similarities of L2-normalized TF-IDF vectors stay in 0..1 whatever the FAQ size, so
thresholds in ``faq.decide`` carry over from a 50-entry ward FAQ to thousands of entries.
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from faq.model import FaqEntry
from faq.semantic import EmbeddingCache, SemanticIndex, SemanticUnavailable, embed_query
from faq.synonyms import Synonyms
from nlp.kana import ReadingLexicon
from nlp.normalize import normalize
from nlp.tokenize import analyze

# Fusion weights (tuned on dev splits; see bench/README.md "Retrieval").
W_WORD = 0.6  # Sudachi normalized forms + readings
W_CHAR = 0.7  # character 1-3-grams of the content words
W_READ = 0.5  # character 2-3-grams of the katakana reading (kana/kanji spelling meet)
W_ANSWER = 0.3  # answer text, soft-OR'ed onto the best question/alternate row
ALT_WEIGHT = 0.8  # an alternate row counts this much of a question row
OOV_IN_NORM = 0.5  # weight (× max idf) of query features the FAQ never uses, in the query norm
COVERAGE_WORD = 0.3  # blend of query coverage into the word channel's cosine
COVERAGE_CHAR = 0.3
CHAR_NGRAMS = (1, 3)
READ_NGRAMS = (2, 3)
ANSWER_CHARS = 400  # only the start of an answer says what it is about
MAX_QUERY_CHARS = 1000
# Kana-only words of a question are rewritten in the FAQ's spelling (nlp.kana) before
# matching and embedding: じゅうみんひょう → 住民票. The lexicon holds the words of the
# questions and alternates (the answers' words added more wrong rewrites than right ones).

# Semantic stage (faq.semantic, multilingual-e5-small), when attached: the entry's best
# passage cosine is mapped to 0..1 by a fixed affine map (e5 cosines of related texts sit in
# 0.75..0.95), so the fused score stays an absolute, FAQ-size-independent quantity.
W_SEMANTIC = 0.7  # fused = (1 - W) * lexical + W * semantic
SEM_LOW = 0.75
SEM_HIGH = 0.95
# Skip the query embedding (~10-20 ms) when the lexical stage is already sure: top score
# at least SEMANTIC_GATE and ahead of the runner-up by SEMANTIC_GATE_MARGIN. Dev: at
# 0.45/0.06 (38 % of kosodate queries embedded) hit@1 0.873; at 0.7/0.15 (75 %) 0.892, the
# same as embedding every query.
SEMANTIC_GATE = 0.7
SEMANTIC_GATE_MARGIN = 0.15
# Under load (search(thorough=False): the answer pool has a backlog) the earlier, looser gate
# embeds ~40 % of questions instead of ~75 %: dev hit@1 0.873 instead of 0.892,
# ~1.9x fewer embeddings, so a disaster-time burst drains faster.
BUSY_GATE = 0.45
BUSY_GATE_MARGIN = 0.06


@dataclass
class Hit:
    """A ranked FAQ entry with a 0..1 score."""

    entry: FaqEntry
    score: float
    # True when the score fuses the semantic stage (faq.decide then uses its thresholds).
    semantic: bool = False


def _identity(x: list[str]) -> list[str]:
    return x


def _fit(vectorizer: TfidfVectorizer, docs: list) -> sparse.csr_matrix | None:  # type: ignore[type-arg]
    try:
        return vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # empty vocabulary: every doc had no usable feature
        return None


class _Channel:
    """One TF-IDF feature space over the rows; ``matrix_t`` is None without vocabulary.

    Queries are vectorized here rather than with ``vectorizer.transform``: same maths
    (sublinear tf × idf, L2), without sklearn's per-call input validation, which cost
    more than the search itself.
    """

    def __init__(self, vectorizer: TfidfVectorizer, docs: list, coverage: float = 0.0) -> None:  # type: ignore[type-arg]
        m = _fit(vectorizer, docs)
        self.n = len(docs)
        self.coverage = coverage
        self.matrix_t: sparse.csr_matrix | None = None
        if m is None:
            return
        self.matrix_t = m.T.tocsr()
        self.analyzer = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        # sklearn's smooth idf recomputed in float64 (idf_ follows the float32 dtype).
        df = np.diff(self.matrix_t.indptr).astype(np.float64)
        self.idf = np.log((1.0 + self.n) / (1.0 + df)) + 1.0
        self.idf_max = float(np.log((1 + self.n) / 1) + 1)  # sklearn's smooth idf at df = 0

    def _query_vector(self, doc: object) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        unknown: dict[str, int] = {}
        for feature in self.analyzer(doc):
            j = self.vocabulary.get(feature)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
            else:
                unknown[feature] = unknown.get(feature, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        vals = (1.0 + np.log(tf)) * self.idf[idx]
        norm_sq = float(vals @ vals)
        if unknown and OOV_IN_NORM:
            # Words the FAQ never uses still count in the query's length, as if rarer than
            # any indexed word: "献血はどこ" must not score like "どこ" alone.
            oov_tf = 1.0 + np.log(np.fromiter(unknown.values(), dtype=np.float64, count=len(unknown)))
            norm_sq += float(oov_tf @ oov_tf) * (self.idf_max * OOV_IN_NORM) ** 2
        return idx, vals / np.sqrt(norm_sq)

    def scores(self, doc: object) -> np.ndarray:
        """Cosine to each row, blended with how much of the query's weight the row covers."""
        if self.matrix_t is None:
            return np.zeros(self.n)
        idx, vals = self._query_vector(doc)
        if idx.size == 0:
            return np.zeros(self.n)
        # Gather the query features' rows of the CSR transpose by hand: scipy's fancy
        # indexing validates its input on every call and cost more than the product.
        m = self.matrix_t
        starts = m.indptr[idx]
        lens = m.indptr[idx + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(self.n)
        offs = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
        rows = m.indices[offs]
        cos = np.bincount(rows, weights=m.data[offs] * np.repeat(vals, lens), minlength=self.n)
        if not self.coverage:
            return cos
        # Cosine favours short, generic questions that share one word with the query;
        # coverage (share of the query's squared weight found in the row) favours rows
        # that match more of what was asked.
        cov = np.bincount(rows, weights=np.repeat(vals * vals, lens), minlength=self.n)
        # Geometric blend: cos^(1-c) * coverage^c.
        return cos ** (1.0 - self.coverage) * cov**self.coverage


def _word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm="l2", dtype=np.float32)


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, norm="l2", dtype=np.float32)


def _reading_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=READ_NGRAMS, sublinear_tf=True, norm="l2", dtype=np.float32)


class FaqIndex:
    """Search FAQ entries by a resident's free-text question."""

    # Set by build() when there is at least one entry.
    _row_weight: np.ndarray
    _n_rows: int
    _words: _Channel
    _chars: _Channel
    _reads: _Channel
    _answers: _Channel

    def __init__(self) -> None:  # use FaqIndex.build()
        self._entries: tuple[FaqEntry, ...] = ()
        self._by_id: dict[str, FaqEntry] = {}
        self._synonyms: Synonyms | None = None
        self._row_starts = np.zeros(0, dtype=np.int64)
        self._semantic: SemanticIndex | None = None
        self._lexicon = ReadingLexicon()
        self.semantic_queries = 0  # queries that went through the embedding model

    @classmethod
    def build(cls, entries: Sequence[FaqEntry], synonyms: Synonyms | None = None) -> FaqIndex:
        """Index ``entries``; ``synonyms`` rewrite variants on both FAQ and query side."""
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
            raise ValueError("FaqIndex.build() expects a sequence of FaqEntry")
        if synonyms is not None and not isinstance(synonyms, Synonyms):
            raise ValueError("synonyms must be a faq.synonyms.Synonyms or None")
        self = cls()
        self._synonyms = synonyms
        by_id: dict[str, FaqEntry] = {}
        for i, e in enumerate(entries):
            if not isinstance(e, FaqEntry):
                raise ValueError(f"entries[{i}] is {type(e).__name__}, not FaqEntry")
            if e.id in by_id:
                raise ValueError(f"duplicate FAQ id {e.id!r}")
            by_id[e.id] = e
        self._entries = tuple(entries)
        self._by_id = by_id
        if not self._entries:
            return self

        row_words: list[list[str]] = []
        row_chars: list[str] = []
        row_reads: list[str] = []
        row_weight: list[float] = []
        starts: list[int] = []
        row_norms: list[str] = []
        for e in self._entries:
            starts.append(len(row_words))
            for j, text in enumerate((e.question, *e.alternates)):
                norm = self._norm(text)
                row_norms.append(norm)
                words, chars, reading = analyze(norm)
                row_words.append(list(words))
                row_chars.append(chars)
                row_reads.append(reading)
                row_weight.append(1.0 if j == 0 else ALT_WEIGHT)
        self._row_starts = np.asarray(starts, dtype=np.int64)
        self._row_weight = np.asarray(row_weight, dtype=np.float32)
        self._n_rows = len(row_words)
        self._words = _Channel(_word_vectorizer(), row_words, COVERAGE_WORD)
        self._chars = _Channel(_char_vectorizer(), row_chars, COVERAGE_CHAR)
        self._reads = _Channel(_reading_vectorizer(), row_reads, COVERAGE_CHAR)
        answers = [
            # The category's words join the answer channel.
            self._analyze(e.category + " " + e.answer[:ANSWER_CHARS])[0]
            for e in self._entries
        ]
        self._answers = _Channel(_word_vectorizer(), answers)
        self._lexicon = ReadingLexicon.from_texts(row_norms)
        return self

    def _norm(self, text: str) -> str:
        norm = normalize(text)
        if self._synonyms is not None:
            norm = self._synonyms.apply(norm)
        return norm

    def _analyze(self, text: str) -> tuple[list[str], str, str]:
        words, chars, reading = analyze(self._norm(text))
        return list(words), chars, reading

    def query_form(self, query: str) -> str:
        """The normalized query as it is matched: synonyms applied, kana words in the FAQ's spelling."""
        return self._lexicon.rewrite(self._norm(query[:MAX_QUERY_CHARS]))

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        """The indexed entries, in input order."""
        return self._entries

    def get(self, id: str) -> FaqEntry | None:
        """The entry with ``id``, or None."""
        return self._by_id.get(id)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, id: object) -> bool:
        return id in self._by_id

    @property
    def semantic(self) -> SemanticIndex | None:
        """The attached semantic stage, or None (lexical only)."""
        return self._semantic

    def attach_semantic(self, semantic: SemanticIndex | None) -> None:
        """Fuse ``semantic`` (built for the same entries, same order) into every later search."""
        if semantic is not None and len(semantic.row_starts) != len(self._entries):
            raise ValueError("semantic index does not match the entries")
        self._semantic = semantic  # one reference assignment: searches see old or new

    def lexical_view(self) -> FaqIndex:
        """The same index without the semantic stage (shares every matrix)."""
        view = copy.copy(self)
        view._semantic = None
        return view

    def build_semantic(self, cache: EmbeddingCache | None = None) -> FaqIndex:
        """Embed the entries (through ``cache``) and attach the semantic stage; returns self.

        Raises :class:`faq.semantic.SemanticUnavailable` when the engine cannot be used.
        """
        self.attach_semantic(SemanticIndex.build(self._entries, cache))
        return self

    def scores(self, query: str) -> np.ndarray:
        """Fused 0..1 score for every entry, in ``entries`` order."""
        return self._scores(query)[0]

    def _scores(self, query: str, thorough: bool = True) -> tuple[np.ndarray, bool]:
        """Scores, and whether the semantic stage took part."""
        lexical = self._lexical(query)
        if lexical is None:
            return np.zeros(len(self._entries)), False
        semantic = self._semantic
        if semantic is None:
            return lexical, False
        if lexical.size > 1:
            second, top = np.partition(lexical, lexical.size - 2)[-2:]
        else:
            second, top = 0.0, lexical[0]
        gate, gate_margin = (SEMANTIC_GATE, SEMANTIC_GATE_MARGIN) if thorough else (BUSY_GATE, BUSY_GATE_MARGIN)
        if top >= gate and top - second >= gate_margin:
            return lexical, False
        try:
            # A kana question rewritten in the FAQ's spelling embeds closer to it, too. Otherwise
            # the model sees the NFKC form, as the lexical stage does (normalize()): half-width
            # ﾏｲﾅﾝﾊﾞｰ must embed like マイナンバー.
            form = self.query_form(query)
            nfkc = unicodedata.normalize("NFKC", query)
            qvec = embed_query(
                form if form != self._norm(query[:MAX_QUERY_CHARS]) else nfkc, cache_size=semantic.query_cache
            )
        except SemanticUnavailable:
            return lexical, False
        self.semantic_queries += 1
        sem = np.clip((semantic.cosines(qvec) - SEM_LOW) / (SEM_HIGH - SEM_LOW), 0.0, 1.0)
        fused = (1.0 - W_SEMANTIC) * lexical + W_SEMANTIC * sem
        return fused, True

    def lexical_scores(self, query: str) -> np.ndarray:
        """The lexical stage's 0..1 score for every entry, in ``entries`` order."""
        lexical = self._lexical(query)
        return np.zeros(len(self._entries)) if lexical is None else lexical

    def _lexical(self, query: str) -> np.ndarray | None:
        """Lexical scores; None when there is nothing to look for (no entries, only filler)."""
        if not isinstance(query, str):
            raise ValueError(f"query must be str, not {type(query).__name__}")
        if not self._entries:
            return None
        words, chars, reading = analyze(self.query_form(query))
        if not words and not chars:
            # Only filler or symbols: nothing to look for.
            return None
        row = W_WORD * self._words.scores(words) + W_CHAR * self._chars.scores(chars)
        norm = W_WORD + W_CHAR
        row += W_READ * self._reads.scores(reading)
        norm += W_READ
        row = row * self._row_weight / norm
        best = np.maximum.reduceat(row, self._row_starts)
        ans = self._answers.scores(words)
        # Soft OR: the answer adds evidence but a perfect question match stays at 1.
        total = best + W_ANSWER * ans * (1.0 - best)
        return np.clip(total, 0.0, 1.0)

    def search(self, query: str, k: int = 5, thorough: bool = True) -> list[Hit]:
        """The ``k`` best entries for ``query``, best first; [] when nothing matches.

        ``thorough=False`` (the bot is busy): embed the query only when the lexical stage is
        unsure by the looser BUSY_GATE.
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a positive int, not {k!r}")
        scores, fused = self._scores(query, thorough)
        if scores.size == 0:
            return []
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
        return [Hit(self._entries[i], float(scores[i]), fused) for i in top if scores[i] > 0.0]
