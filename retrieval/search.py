"""Dense-first search: e5 paragraph and sentence similarity, BM25 where words match,
three answer confidences, and the sentence that answers."""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from retrieval.answer_type import AnswerType, AnswerTypes
from retrieval.embedder import Embedder
from retrieval.highlight import choose_highlight
from retrieval.index import LoadedIndex
from retrieval.results import Confidence, Hit, SearchResult
from retrieval.text import (
    OTHER_LANGUAGES,
    Analyzer,
    Language,
    has_latin,
    latin_to_cyrillic,
    question_language,
)


@dataclass(frozen=True)
class FusionParams:
    """How signals combine and where confidences change. Each model's values come from its
    calibration (`python -m retrieval fit --write`, README Quality); these defaults are
    the default model's, for a model without one."""

    # Dense signals are z-scored over the candidates, so that a query's overall similarity
    # level (English questions score lower than Russian ones) does not matter; BM25 is scaled
    # to the best candidate, so a query with no matching word adds nothing.
    passage: float = 1.0
    sentence: float = 0.5
    previous: float = 0.2  # the paragraph before often names the speaker or the topic
    bm25: float = 1.6
    sentence_bm25: float = 0.0
    context_terms: float = 0.5  # words of the previous question, for a follow-up
    transliterated: float = 0.7  # Latin-script names respelled in Cyrillic (Tokayev -> токаев)
    # Confidence from the top hit's best cosine (paragraph or sentence) with the question.
    none_below: float = 0.808
    high_from: float = 0.856
    # Added to that cosine for a question not in Russian: the passages are Russian, and an
    # English, Azerbaijani or Kazakh question is as close to its answer at a lower cosine,
    # lower by how far the language is from Russian for the model.
    shift_en: float = 0.0
    shift_az: float = 0.0
    shift_kk: float = 0.0
    # Highlight: sentence cosine plus these bonuses.
    highlight_bm25: float = 0.02
    highlight_stems: float = 0.02  # share of the question's word stems in the sentence
    highlight_answer_type: float = 0.02
    # the previous sentence's cosine: a sentence close to the question often introduces
    # the topic, and the one after it holds the figures or the details
    highlight_previous: float = 0.0
    # taken off a paragraph's first sentence: it often only names the paragraph's topic,
    # which brings it close to any question on that topic, and the sentences after it answer
    highlight_lead: float = 0.0
    highlight_neighbour_margin: float = 0.0

    @classmethod
    def calibrated(cls, values: dict[str, float]) -> FusionParams:
        values = dict(values)
        if "other_language_shift" in values:  # a calibration from before the shifts per language
            pooled = values.pop("other_language_shift")
            values = {f"shift_{lang}": pooled for lang in OTHER_LANGUAGES} | values
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})

    def language_shift(self, language: Language) -> float:
        return 0.0 if language == "ru" else getattr(self, f"shift_{language}")


CANDIDATES = 100


@dataclass(frozen=True)
class Ranking:
    rows: list[int]  # passage rows, best first
    scores: list[float]
    best_cosine: float  # the top passage's paragraph or best-sentence cosine with the query
    sentence_cosines: list[np.ndarray]  # per row, each sentence's cosine with the highlight's vector
    sentence_bm25: list[np.ndarray]  # per row, each sentence's BM25 scaled to its best


class Retriever:
    """Answers queries over one loaded index; immutable after construction, safe to share."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        analyzer: Analyzer,
        params: FusionParams | None = None,
    ) -> None:
        if index.manifest.model != embedder.name:
            raise ValueError(f"index built with {index.manifest.model!r}, embedder is {embedder.name!r}")
        self.index = index
        self.embedder = embedder
        self.analyzer = analyzer
        self.params = params or FusionParams.calibrated(embedder.calibration)
        self.answer_types = AnswerTypes(analyzer.morph)
        article_of = np.asarray([p.article_id for p in index.passages])
        # passage i-1 is the context of passage i only inside the same article
        self._has_previous = (
            np.r_[False, article_of[1:] == article_of[:-1]] if len(article_of) else article_of
        )
        # sentences are stored passage by passage: each passage's first sentence row
        owners = index.lexical.sentence_passage
        self._sentence_start = np.searchsorted(owners, np.arange(len(index.passages)))
        self._sentence_end = np.r_[self._sentence_start[1:], len(owners)].astype(np.int64)
        # each sentence's terms, read back from its BM25 row rather than analysed per search
        self._sentence_vocab = np.asarray(list(index.lexical.sentences.vocab), dtype=object)
        self._sentence_stems = functools.lru_cache(maxsize=65536)(self._read_sentence_stems)

    def with_params(self, **values: float) -> Retriever:
        """The same index and model with some parameters changed (the fit tries many)."""
        variant = copy.copy(self)
        variant.params = dataclasses.replace(self.params, **values)
        return variant

    @property
    def passage_count(self) -> int:
        return len(self.index.passages)

    def search(self, query: str, k: int = 3, context: str | None = None) -> SearchResult:
        """The k best passages for `query`; `context` is the previous question of the
        conversation when `query` is a follow-up ("а когда его достроят?")."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        context = context.strip() if context and context.strip() else None
        if not self.index.passages or not query.strip():
            return SearchResult(query, (), "none", context)
        if context:
            # Ranked by the question read with its context, highlighted by the question alone:
            # the context's words would bold what answered it, which the user has just read.
            read_with_context, alone = self.embedder.encode_queries([f"{context} {query}", query])
            ranking = self.rank(query, read_with_context, k, context, alone)
        else:
            ranking = self.rank(query, self.embedder.encode_queries([query])[0], k)
        return SearchResult(query, self.hits(query, ranking), self.confidence(query, ranking), context)

    def hits(self, query: str, ranking: Ranking) -> tuple[Hit, ...]:
        """The ranked passages with their highlights (the fit re-highlights one ranking)."""
        p = self.params
        asked = self.answer_types.asked(query) if p.highlight_answer_type else set()
        stems = _stems(self.analyzer.terms(query)) if p.highlight_stems else set()
        return tuple(
            self._hit(row, score, cosines, lexical, asked, stems)
            for row, score, cosines, lexical in zip(
                ranking.rows, ranking.scores, ranking.sentence_cosines, ranking.sentence_bm25, strict=True
            )
        )

    def rank(
        self,
        query: str,
        query_vector: np.ndarray,
        k: int,
        context: str | None = None,
        highlight_vector: np.ndarray | None = None,
    ) -> Ranking:
        """The k best passage rows by fused score, with what confidence and highlight need
        (the highlight's sentence cosines with `highlight_vector` when given)."""
        p = self.params
        weights = self._term_weights(query, context)
        bm25_all = self.index.lexical.passages.score(weights)
        candidates = self._candidates(bm25_all, query_vector)
        rows, offsets = self._sentence_rows(candidates)
        sentence_matrix = np.asarray(self.index.sentence_vectors[rows], dtype=np.float32)
        sentence_cos = sentence_matrix @ query_vector
        highlight_cos = sentence_cos if highlight_vector is None else sentence_matrix @ highlight_vector
        sentence_bm25 = self.index.lexical.sentences.score_rows(rows, weights)
        dense = np.asarray(self.index.vectors[candidates], dtype=np.float32) @ query_vector
        best_sentence = _max_per_group(sentence_cos, offsets)
        previous = self._previous_similarity(candidates, dense, query_vector)
        fused = (
            p.passage * _z(dense)
            + p.sentence * _z(best_sentence)
            + p.previous * _z(previous)
            + p.bm25 * _unit(bm25_all[candidates])
            + p.sentence_bm25 * _unit(_max_per_group(sentence_bm25, offsets))
        )
        order = np.argsort(-fused, kind="stable")[:k]
        bounds = np.r_[offsets, len(rows)]
        return Ranking(
            rows=[int(candidates[i]) for i in order],
            scores=[float(fused[i]) for i in order],
            best_cosine=float(max(dense[order[0]], best_sentence[order[0]])),
            sentence_cosines=[highlight_cos[bounds[i] : bounds[i + 1]] for i in order],
            sentence_bm25=[_unit(sentence_bm25[bounds[i] : bounds[i + 1]]) for i in order],
        )

    def _term_weights(self, query: str, context: str | None) -> dict[str, float]:
        weights = dict.fromkeys(self.analyzer.terms(query), 1.0)
        for word in query.split():
            if has_latin(word):
                for term in self.analyzer.terms(latin_to_cyrillic(word)):
                    weights.setdefault(term, self.params.transliterated)
        for term in self.analyzer.terms(context or ""):
            weights.setdefault(term, self.params.context_terms)
        return weights

    def _candidates(self, bm25: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
        n = len(bm25)
        size = min(CANDIDATES, n)
        if size == n:
            return np.arange(n)
        top_lexical = np.argpartition(-bm25, size - 1)[:size]
        top_lexical = top_lexical[bm25[top_lexical] > 0]
        _, dense_ids = self.index.dense.search(query_vector.reshape(1, -1).astype(np.float32), size)
        return np.union1d(top_lexical, dense_ids[0][dense_ids[0] >= 0]).astype(np.int64)

    def _sentence_rows(self, passages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the given passages, concatenated, and where each passage's rows start."""
        starts = self._sentence_start[passages]
        counts = self._sentence_end[passages] - starts
        offsets = np.cumsum(counts) - counts
        rows = np.arange(int(counts.sum())) - np.repeat(offsets, counts) + np.repeat(starts, counts)
        return rows, offsets

    def _previous_similarity(
        self, candidates: np.ndarray, dense: np.ndarray, query_vector: np.ndarray
    ) -> np.ndarray:
        has_previous = self._has_previous[candidates]
        previous = np.full(len(candidates), float(dense.mean()), dtype=np.float32)
        if has_previous.any():
            rows = candidates[has_previous] - 1
            previous[has_previous] = np.asarray(self.index.vectors[rows], dtype=np.float32) @ query_vector
        return previous

    def confidence(self, query: str, ranking: Ranking) -> Confidence:
        """`none` when even the best passage is far from the question; `low` when it is only
        near, or lacks the kind of answer asked for (a number, date, person, place)."""
        p = self.params
        closeness = ranking.best_cosine + p.language_shift(question_language(query))
        return grade(closeness, self.lacks_answer_type(query, ranking), p.none_below, p.high_from)

    def lacks_answer_type(self, query: str, ranking: Ranking) -> bool:
        return bool(self.answer_types.missing(query, self.index.passages[ranking.rows[0]].text))

    def _hit(
        self,
        row: int,
        score: float,
        cosines: np.ndarray,
        lexical: np.ndarray,
        asked: set[AnswerType],
        stems: set[str],
    ) -> Hit:
        passage = self.index.passages[row]
        texts = passage.sentence_texts()
        p = self.params
        scores = cosines + p.highlight_bm25 * lexical
        if p.highlight_previous and len(texts) > 1:  # the first has none in its passage: the mean
            previous = np.r_[float(cosines.mean()), cosines[:-1]]
            scores = scores + p.highlight_previous * previous.astype(np.float32)
        if asked and len(texts) > 1:
            typed = [all(self.answer_types.holds(kind, t) for kind in asked) for t in texts]
            scores = scores + p.highlight_answer_type * np.asarray(typed, dtype=np.float32)
        if p.highlight_stems and len(texts) > 1:
            first = int(self._sentence_start[row])
            shared = [
                len(stems & self._sentence_stems(first + i)) / max(len(stems), 1) for i in range(len(texts))
            ]
            scores = scores + p.highlight_stems * np.asarray(shared, dtype=np.float32)
        if p.highlight_lead and len(texts) > 1:
            scores = scores - p.highlight_lead * (np.arange(len(texts)) == 0)
        chosen = choose_highlight(passage.sentences, texts, scores, p.highlight_neighbour_margin)
        return Hit(passage, self.index.articles[passage.article_id], score, chosen)

    def _read_sentence_stems(self, sentence_row: int) -> frozenset[str]:
        weights = self.index.lexical.sentences.weights
        columns = weights.indices[weights.indptr[sentence_row] : weights.indptr[sentence_row + 1]]
        return frozenset(_stems(self._sentence_vocab[columns].tolist()))


def grade(closeness: float, lacks_answer_type: bool, none_below: float, high_from: float) -> Confidence:
    """The confidence rule, shared with the fit: `none` below `none_below`; `low` below
    `high_from` or when the top passage lacks the asked-for answer type; else `high`."""
    if closeness < none_below:
        return "none"
    return "low" if closeness < high_from or lacks_answer_type else "high"


STEM_LENGTH = 5


def _stems(terms: list[str]) -> set[str]:
    """Lemma beginnings: derivations share them where lemmas differ (завершить / завершение)."""
    return {t[:STEM_LENGTH] for t in terms if not t.isdigit()}


def _max_per_group(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    if not len(values):
        return np.zeros(len(offsets), dtype=np.float32)
    return np.maximum.reduceat(values, offsets).astype(np.float32)


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - float(values.mean())) / spread if spread > 1e-9 else np.zeros_like(values)


def _unit(values: np.ndarray) -> np.ndarray:
    top = float(values.max(initial=0.0))
    return values / top if top > 0 else np.zeros_like(values)
