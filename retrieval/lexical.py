"""Sparse BM25 over Russian lexical terms, at passage and sentence level, scaled with scipy."""

from __future__ import annotations

import json
from collections import Counter
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
    def build(cls, docs: list[list[str]], b: float = B) -> Field:
        return cls.from_counts(*count_terms(docs), b)

    @classmethod
    def from_counts(cls, vocab: dict[str, int], counts: sparse.csr_matrix, b: float = B) -> Field:
        """From raw term counts (documents x vocabulary)."""
        n_docs = max(counts.shape[0], 1)
        lengths = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        avg_len = float(lengths.mean()) if counts.shape[0] else 1.0
        doc_freq = np.bincount(counts.indices, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).astype(np.float32)
        norm = K1 * (1 - b + b * lengths / max(avg_len, 1e-9))
        tf = counts.tocoo()
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


def count_terms(docs: list[list[str]]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The vocabulary (in sorted order, so that the same documents give the same matrix
    however their terms were listed) and each document's term counts."""
    vocab = {term: i for i, term in enumerate(sorted({t for doc in docs for t in doc}))}
    rows, cols, counts = [], [], []
    for row, doc in enumerate(docs):
        for term, count in Counter(doc).items():
            rows.append(row)
            cols.append(vocab[term])
            counts.append(count)
    matrix = sparse.csr_matrix(
        (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocab))
    )
    return vocab, matrix


@dataclass
class LexicalIndex:
    """Passage and sentence fields over the same passages."""

    passages: Field
    sentences: Field  # row-major: scored only for a query's candidates
    sentence_passage: np.ndarray  # passage row of each sentence row, non-decreasing
    # Each sentence's raw term counts in the sentence field's columns, saved so that the next
    # build reads the terms of unchanged sentences back instead of analysing them again (most
    # of a large reindex's time); not loaded for search.
    sentence_counts: sparse.csr_matrix | None = None

    FIELDS = ("passages", "sentences")
    COUNTS_FILE = "lexical.sentence_counts.npz"

    @classmethod
    def build(
        cls, sentence_terms: list[list[list[str]]], passage_extra: list[list[str]] | None = None
    ) -> LexicalIndex:
        """From each passage's sentences' terms; a passage's terms are its sentences' terms
        and its `passage_extra` ones (the names of who speaks in it)."""
        flat_sentences = [s for sentences in sentence_terms for s in sentences]
        sentence_passage = np.repeat(np.arange(len(sentence_terms)), [len(s) for s in sentence_terms])
        extra = passage_extra or [[] for _ in sentence_terms]
        vocab, counts = count_terms(flat_sentences)
        return cls(
            passages=Field.build(
                [
                    [t for s in sentences for t in s] + more
                    for sentences, more in zip(sentence_terms, extra, strict=True)
                ]
            ),
            sentences=Field.from_counts(vocab, counts).row_major(),
            sentence_passage=sentence_passage.astype(np.int32),
            sentence_counts=counts,
        )

    def save(self, folder: Path) -> None:
        for name in self.FIELDS:
            getattr(self, name).save(folder, f"lexical.{name}")
        np.save(folder / "lexical.sentence_passage.npy", self.sentence_passage)
        if self.sentence_counts is not None:
            sparse.save_npz(folder / self.COUNTS_FILE, self.sentence_counts, compressed=False)

    @classmethod
    def read_sentence_terms(cls, folder: Path) -> list[list[str]]:
        """Each sentence's terms (a bag: in vocabulary order, each repeated by its count), as
        a saved build analysed them."""
        counts = sparse.load_npz(folder / cls.COUNTS_FILE).tocsr()
        names = json.loads((folder / "lexical.sentences.vocab.json").read_text("utf-8"))
        vocab = np.asarray(names, dtype=object)
        if counts.shape[1] != len(vocab):
            raise ValueError("sentence counts and vocabulary sizes differ")
        repeats = counts.data.astype(np.int64)
        # the vocabulary's own string objects, repeated: no copy of a term per occurrence
        terms = np.repeat(vocab[counts.indices], repeats).tolist()
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        per_row = np.bincount(rows, weights=repeats, minlength=counts.shape[0]).astype(np.int64)
        ends = np.cumsum(per_row)
        return [terms[end - n : end] for end, n in zip(ends.tolist(), per_row.tolist(), strict=True)]

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        fields = {name: Field.load(folder, f"lexical.{name}") for name in cls.FIELDS}
        return cls(**fields, sentence_passage=np.load(folder / "lexical.sentence_passage.npy"))
