"""Hybrid search: lexical BM25 signals fused with dense similarity, abstention and highlights."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from retrieval.embedder import Embedder
from retrieval.highlight import choose_highlight
from retrieval.index import LoadedIndex
from retrieval.lexical import PREFIX_MARK, prefixes
from retrieval.results import Hit, SearchResult
from retrieval.text import Analyzer, has_latin, latin_to_cyrillic, script_of

# Fusion weights, tuned on the public and dev questions (see README). Sentence-level
# BM25 carries most of it: a factoid answer sits in one sentence with the query terms.
# Two stages keep queries fast on large corpora: passage-level signals over every
# passage pick CANDIDATES (plus the dense top), the other signals score only those.
W_PASSAGE = 1.0
W_SENTENCE = 2.0
W_PREFIX = 0.2
W_COVERAGE = 0.3
W_DENSE = 0.3
# Lexical context: the paragraph before often names the speaker ("Косбаева отметила..."),
# and the article as a whole tells whose words these are.
PREVIOUS_PASSAGE_SHARE = 0.4
ARTICLE_SHARE = 0.1
# Words of saying match attribution lines, not answers.
_SPEECH_WORDS_TEXT = """
    сказать говорить отметить заявить подчеркнуть считать мнение слово оценить назвать
    сообщить добавить
"""
SPEECH_WORDS = frozenset(_SPEECH_WORDS_TEXT.split())
SPEECH_WEIGHT = 0.3
TRANSLITERATION_WEIGHT = 0.7
SENTENCE_PREFIX_WEIGHT = 0.3
CANDIDATES = 100
# Abstention. A Russian question is answered when the top passage covers enough of its
# words (words absent from the whole corpus weigh more: in "Сколько стоит биткоин?" the
# question is about "биткоин") plus dense similarity; other languages have no lexical
# evidence, only the dense similarity.
MIN_COVERAGE_PLUS_DENSE = 0.55
MIN_DENSE_OTHER_SCRIPT = 0.17
UNKNOWN_TERM_IDF_FACTOR = 1.5


@dataclass(frozen=True)
class _Query:
    text: str
    weights: dict[str, float]
    sentence_weights: dict[str, float]
    idf: np.ndarray  # per term in `terms`, for coverage
    terms: list[str]


class Retriever:
    """Answers queries over one loaded index; immutable after construction, safe to share."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, analyzer: Analyzer) -> None:
        if index.manifest.model != embedder.name:
            raise ValueError(f"index built with {index.manifest.model!r}, embedder is {embedder.name!r}")
        self.index = index
        self.embedder = embedder
        self.analyzer = analyzer
        # A single query runs ~8x faster on one OpenMP thread than on two (flat 10k: 5.0 -> 0.6 ms
        # p50); concurrency comes from several questions at once, not from splitting one.
        faiss.omp_set_num_threads(1)
        article_of = index.lexical.passage_article
        # passage i-1 is the context of passage i only inside the same article
        self._has_previous = np.r_[False, article_of[1:] == article_of[:-1]]
        # sentences are stored passage by passage: each passage's first sentence row
        owners = index.lexical.sentence_passage
        self._sentence_start = np.searchsorted(owners, np.arange(len(index.passages)))
        self._sentence_end = np.r_[self._sentence_start[1:], len(owners)].astype(np.int64)

    @property
    def passage_count(self) -> int:
        return len(self.index.passages)

    def search(self, query: str, k: int = 3, context: str | None = None) -> SearchResult:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not self.index.passages or not query.strip():
            return SearchResult(query, (), "none", context)
        parsed = self._parse(query)
        query_vector = self.embedder.encode_queries([query])[0]
        first_stage = self._first_stage(parsed)
        candidates = self._candidates(first_stage, query_vector)
        best_sentence, sentence_scores, coverage = self._second_stage(parsed, candidates)
        dense = np.asarray(self.index.vectors[candidates], dtype=np.float32) @ query_vector
        fused = (
            first_stage[candidates]
            + W_SENTENCE * _unit(best_sentence)
            + W_COVERAGE * coverage
            + W_DENSE * dense
        )
        order = np.argsort(-fused, kind="stable")[:k]
        abstained = self._abstain(parsed, float(coverage[order[0]]), float(dense.max()))
        rows = [int(candidates[i]) for i in order]
        highlight_scores = self._highlight_scores(rows, [sentence_scores[i] for i in order], query_vector)
        hits = tuple(
            self._hit(row, float(fused[i]), scores, query)
            for i, row, scores in zip(order, rows, highlight_scores, strict=True)
        )
        return SearchResult(query, hits, "none" if abstained else "high", context)

    def _parse(self, query: str) -> _Query:
        weights: dict[str, float] = {}
        for term in self.analyzer.terms(query):
            weight = SPEECH_WEIGHT if term in SPEECH_WORDS else 1.0
            weights[term] = max(weights.get(term, 0.0), weight)
        for word in query.split():
            if has_latin(word):
                for term in self.analyzer.terms(latin_to_cyrillic(word)):
                    weights.setdefault(term, TRANSLITERATION_WEIGHT)
        field = self.index.lexical.passages
        unknown_idf = UNKNOWN_TERM_IDF_FACTOR * (float(field.idf.max()) if len(field.idf) else 1.0)
        terms = [t for t in weights if weights[t] >= 1.0] or list(weights)
        idf = np.asarray([field.idf[field.vocab[t]] if t in field.vocab else unknown_idf for t in terms])
        sentence_weights = dict(weights)
        for term, weight in weights.items():
            for prefix in prefixes([term]):
                sentence_weights.setdefault(PREFIX_MARK + prefix, SENTENCE_PREFIX_WEIGHT * weight)
        return _Query(query, weights, sentence_weights, idf.astype(np.float32), terms)

    def _first_stage(self, query: _Query) -> np.ndarray:
        """Cheap signals over every passage: BM25 in context, and derivations by prefix."""
        lex = self.index.lexical
        passage = lex.passages.score(query.weights)
        previous = np.r_[0.0, passage[:-1]] * self._has_previous
        article = lex.articles.score(query.weights)[lex.passage_article]
        contextual = (
            passage
            + PREVIOUS_PASSAGE_SHARE * previous
            + ARTICLE_SHARE * _unit(article) * passage.max(initial=0.0)
        )
        prefix = lex.prefixes.score(dict.fromkeys(prefixes(list(query.weights)), 1.0))
        return (W_PASSAGE * _unit(contextual) + W_PREFIX * _unit(prefix)).astype(np.float32)

    def _candidates(self, first_stage: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
        n = len(first_stage)
        size = min(CANDIDATES, n)
        top_lexical = np.argpartition(-first_stage, size - 1)[:size] if size < n else np.arange(n)
        _, dense_ids = self.index.dense.search(query_vector.reshape(1, -1).astype(np.float32), size)
        return np.union1d(top_lexical, dense_ids[0][dense_ids[0] >= 0]).astype(np.int64)

    def _second_stage(
        self, query: _Query, candidates: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Per candidate: best sentence BM25, each sentence's BM25, and the share of the query's
        words found in the passage or the one before it."""
        sentences = self.index.lexical.sentences
        rows, offsets = self._sentence_rows(candidates)
        scores = sentences.score_rows(rows, query.sentence_weights)
        per_passage = np.split(scores, offsets[1:])
        best = np.asarray([part.max(initial=0.0) for part in per_passage], dtype=np.float32)
        present = _max_per_passage(sentences.presence_rows(rows, query.terms), offsets)
        previous = np.where(self._has_previous[candidates], candidates - 1, candidates)
        prev_rows, prev_offsets = self._sentence_rows(previous)
        present_before = _max_per_passage(sentences.presence_rows(prev_rows, query.terms), prev_offsets)
        present_before *= self._has_previous[candidates][:, None]
        coverage = np.maximum(present, present_before) @ query.idf / max(float(query.idf.sum()), 1e-9)
        return best, per_passage, coverage.astype(np.float32)

    def _sentence_rows(self, passages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the given passages, concatenated, and where each passage's rows start."""
        starts = self._sentence_start[passages]
        counts = self._sentence_end[passages] - starts
        offsets = np.cumsum(counts) - counts
        rows = np.arange(int(counts.sum())) - np.repeat(offsets, counts) + np.repeat(starts, counts)
        return rows, offsets

    def _abstain(self, query: _Query, top_coverage: float, best_dense: float) -> bool:
        if script_of(query.text) != "ru" or not query.terms:
            return bool(best_dense < MIN_DENSE_OTHER_SCRIPT)
        return bool(top_coverage + best_dense < MIN_COVERAGE_PLUS_DENSE)

    def _highlight_scores(
        self, rows: list[int], lexical: list[np.ndarray], query_vector: np.ndarray
    ) -> list[np.ndarray]:
        """Per hit, a score per sentence: lexical where a word matched, else dense similarity
        (English questions), with the sentences of all such hits encoded in one call."""
        need = [i for i, scores in enumerate(lexical) if not scores.any()]
        if not need:
            return lexical
        texts = [self.index.passages[rows[i]].sentence_texts() for i in need]
        similarity = self.embedder.encode_passages([t for group in texts for t in group]) @ query_vector
        bounds = np.cumsum([0] + [len(group) for group in texts])
        out = list(lexical)
        for j, i in enumerate(need):
            out[i] = similarity[bounds[j] : bounds[j + 1]]
        return out

    def _hit(self, row: int, score: float, sentence_scores: np.ndarray, query: str) -> Hit:
        passage = self.index.passages[row]
        chosen = choose_highlight(passage.sentences, passage.sentence_texts(), sentence_scores, query)
        return Hit(passage, self.index.articles[passage.article_id], score, chosen)


def _max_per_passage(presence: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    if not len(presence):
        return np.zeros((len(offsets), presence.shape[1]), dtype=np.float32)
    return np.maximum.reduceat(presence, offsets, axis=0)


def _unit(values: np.ndarray) -> np.ndarray:
    top = float(values.max(initial=0.0))
    return values / top if top > 0 else np.zeros_like(values)
