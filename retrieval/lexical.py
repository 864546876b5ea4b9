"""Sparse BM25 over Russian lexical terms, at passage and sentence level, scaled with scipy."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

K1 = 1.2
B = 0.75


@dataclass
class Field:
    """One BM25 field: a (documents x vocabulary) matrix of per-term BM25 weights."""

    vocab: dict[str, int]
    idf: np.ndarray
    weights: sparse.csc_matrix | sparse.csr_matrix  # column-major to score all, row-major to score some

    @classmethod
    def build(cls, counts: TermCounts, b: float = B) -> Field:
        """From raw term counts."""
        vocab = {term: i for i, term in enumerate(counts.vocab)}
        matrix = counts.counts
        n_docs = max(matrix.shape[0], 1)
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
        avg_len = float(lengths.mean()) if matrix.shape[0] else 1.0
        doc_freq = np.bincount(matrix.indices, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        norm = K1 * (1 - b + b * lengths / max(avg_len, 1e-9))
        tf = matrix.tocoo()
        data = tf.data * (K1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        weights = sparse.csc_matrix((data.astype(np.float32), (tf.row, tf.col)), shape=tf.shape)
        return cls(vocab, idf, weights)

    def score(self, query: dict[str, float]) -> np.ndarray:
        """BM25 of every document for weighted query terms (unknown terms add nothing)."""
        cols = [self.vocab[t] for t in query if t in self.vocab]
        if not cols:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        q = np.asarray([query[t] for t in query if t in self.vocab], dtype=np.float32)
        return np.asarray(self.weights[:, cols] @ q).ravel()

    def score_rows(self, rows: np.ndarray, query: dict[str, float]) -> np.ndarray:
        """BM25 of the given documents only (fast when the matrix is row-major)."""
        cols = [self.vocab[t] for t in query if t in self.vocab]
        if not cols or not len(rows):
            return np.zeros(len(rows), dtype=np.float32)
        q = np.asarray([query[t] for t in query if t in self.vocab], dtype=np.float32)
        return np.asarray(self.weights[rows][:, cols] @ q).ravel()

    def row_major(self) -> Field:
        return Field(self.vocab, self.idf, self.weights.tocsr())

    def save(self, folder: Path, name: str) -> None:
        sparse.save_npz(folder / f"{name}.npz", self.weights, compressed=False)
        np.save(folder / f"{name}.idf.npy", self.idf)
        (folder / f"{name}.vocab.json").write_text(json.dumps(list(self.vocab), ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path, name: str) -> Field:
        terms = json.loads((folder / f"{name}.vocab.json").read_text("utf-8"))
        weights = sparse.load_npz(folder / f"{name}.npz")
        idf = np.load(folder / f"{name}.idf.npy")
        if weights.shape[1] != len(terms) or idf.shape[0] != len(terms):
            raise ValueError(f"lexical field {name}: vocabulary and matrix sizes differ")
        return cls({t: i for i, t in enumerate(terms)}, idf, weights)


@dataclass(frozen=True)
class TermCounts:
    """Documents' raw term counts over a sorted vocabulary of the terms they use, so that
    the same documents give the same matrix however they were put together."""

    vocab: list[str]
    counts: sparse.csr_matrix  # documents x vocabulary

    @classmethod
    def of(cls, docs: Sequence[Sequence[str]]) -> TermCounts:
        vocab = sorted({t for doc in docs for t in doc})
        column = {term: i for i, term in enumerate(vocab)}
        rows, cols, counts = [], [], []
        for row, doc in enumerate(docs):
            for term, count in Counter(doc).items():
                rows.append(row)
                cols.append(column[term])
                counts.append(count)
        matrix = sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocab))
        )
        return cls(vocab, matrix)

    def rows(self, rows: Sequence[int]) -> TermCounts:
        """These documents only (the vocabulary is narrowed when they are stacked)."""
        return TermCounts(self.vocab, self.counts[np.asarray(rows, dtype=np.int64)])

    def terms(self, row: int) -> set[str]:
        start, end = self.counts.indptr[row], self.counts.indptr[row + 1]
        return {self.vocab[c] for c in self.counts.indices[start:end]}

    @classmethod
    def stack(cls, parts: Sequence[TermCounts], order: np.ndarray) -> TermCounts:
        """The parts' rows one under another, then reordered: row i of the result is row
        `order[i]` of the stack."""
        vocab, matrices = _on_shared_vocabulary(parts)
        return cls(vocab, sparse.vstack(matrices, format="csr")[order])

    @classmethod
    def add(cls, parts: Sequence[TermCounts]) -> TermCounts:
        """The parts' counts (of the same documents) summed."""
        vocab, matrices = _on_shared_vocabulary(parts)
        return cls(vocab, sum(matrices[1:], matrices[0]).tocsr())


def _on_shared_vocabulary(parts: Sequence[TermCounts]) -> tuple[list[str], list[sparse.csr_matrix]]:
    """The parts' matrices with their columns moved to one sorted vocabulary of the terms
    they use (terms no row uses any more are dropped)."""
    used = [np.unique(p.counts.indices) for p in parts]
    vocab = sorted({p.vocab[c] for p, columns in zip(parts, used, strict=True) for c in columns})
    column = {term: i for i, term in enumerate(vocab)}
    moved = []
    for part, columns in zip(parts, used, strict=True):
        target = np.zeros(len(part.vocab), dtype=np.int64)
        target[columns] = [column[part.vocab[c]] for c in columns]
        matrix = part.counts
        moved.append(
            sparse.csr_matrix(
                (matrix.data, target[matrix.indices], matrix.indptr), shape=(matrix.shape[0], len(vocab))
            )
        )
    return vocab, moved


@dataclass
class LexicalIndex:
    """Passage and sentence fields over the same passages."""

    passages: Field
    sentences: Field  # row-major: scored only for a query's candidates
    sentence_passage: np.ndarray  # passage row of each sentence row, non-decreasing
    # Each sentence's raw term counts, saved so that the next build takes those of unchanged
    # sentences instead of analysing them again (most of a large reindex's time); not loaded
    # for search.
    sentence_counts: TermCounts | None = None

    FIELDS = ("passages", "sentences")
    COUNTS_FILE = "lexical.sentence_counts.npz"

    @classmethod
    def build(
        cls, sentences: TermCounts, sentence_passage: np.ndarray, passage_extra: TermCounts
    ) -> LexicalIndex:
        """From each sentence's term counts and the passage each belongs to (non-decreasing);
        a passage's terms are its sentences' terms and its `passage_extra` ones (the names of
        who speaks in it)."""
        own = passage_sentence_counts(sentences, sentence_passage, passage_extra.counts.shape[0])
        passages = TermCounts.add([own, passage_extra])
        return cls(
            passages=Field.build(passages),
            sentences=Field.build(sentences).row_major(),
            sentence_passage=sentence_passage.astype(np.int32),
            sentence_counts=sentences,
        )

    def save(self, folder: Path) -> None:
        for name in self.FIELDS:
            getattr(self, name).save(folder, f"lexical.{name}")
        np.save(folder / "lexical.sentence_passage.npy", self.sentence_passage)
        if self.sentence_counts is not None:
            sparse.save_npz(folder / self.COUNTS_FILE, self.sentence_counts.counts, compressed=False)

    @classmethod
    def read_sentence_counts(cls, folder: Path) -> TermCounts:
        """Each sentence's term counts, as a saved build found them."""
        counts = sparse.load_npz(folder / cls.COUNTS_FILE).tocsr()
        vocab = json.loads((folder / "lexical.sentences.vocab.json").read_text("utf-8"))
        if counts.shape[1] != len(vocab):
            raise ValueError("sentence counts and vocabulary sizes differ")
        return TermCounts(vocab, counts)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        fields = {name: Field.load(folder, f"lexical.{name}") for name in cls.FIELDS}
        return cls(**fields, sentence_passage=np.load(folder / "lexical.sentence_passage.npy"))


def passage_sentence_counts(sentences: TermCounts, sentence_passage: np.ndarray, passages: int) -> TermCounts:
    """Each passage's counts: the sum of its sentences'."""
    owner = sparse.csr_matrix(
        (
            np.ones(len(sentence_passage), dtype=np.float32),
            (sentence_passage, np.arange(len(sentence_passage))),
        ),
        shape=(passages, len(sentence_passage)),
    )
    return TermCounts(sentences.vocab, (owner @ sentences.counts).tocsr())
