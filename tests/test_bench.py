"""The scale benchmark's smoke test (no timing asserts) and the approximate index path."""

import json
import os
import subprocess
import sys

import numpy as np

from retrieval import index as index_module
from retrieval.bench import bench_queries, seed_sentences, synthetic_corpus
from retrieval.corpus import load_corpus
from retrieval.index import build_index, load_index
from retrieval.search import Retriever

from .conftest import ROOT, SEEDS

BENCH_KEYS = {"passages", "build_s", "query_p50_ms", "query_p95_ms", "rss_mb", "disk_mb", "recall_at_10"}


def test_bench_prints_one_json_object_per_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "retrieval", "bench", "--sizes", "200,400", "--json", "--queries", "20"],
        cwd=ROOT,
        env={**os.environ, "EMBEDDING_MODEL": "hash-64", "SEEDS_DIR": str(SEEDS)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["passages"] for r in rows] == [200, 400]
    assert all(set(r) >= BENCH_KEYS for r in rows)
    assert all(r["recall_at_10"] == 1.0 for r in rows)  # exact search at these sizes


def test_synthetic_corpus_is_deterministic(tmp_path) -> None:
    sentences = seed_sentences(SEEDS)
    synthetic_corpus(sentences, 120, tmp_path / "a")
    synthetic_corpus(sentences, 120, tmp_path / "b")
    texts = [p.text for p in load_corpus(tmp_path / "a").passages]
    assert len(texts) == 120
    assert texts == [p.text for p in load_corpus(tmp_path / "b").passages]
    assert bench_queries(sentences, 5) == bench_queries(sentences, 5)


def test_approximate_index_above_the_threshold(tmp_path, monkeypatch, embedder, analyzer) -> None:
    monkeypatch.setattr(index_module, "EXACT_SEARCH_LIMIT", 100)
    synthetic_corpus(seed_sentences(SEEDS), 600, tmp_path / "seeds")
    report = build_index(tmp_path / "seeds", tmp_path / "idx", embedder, analyzer)
    assert report.manifest.dense_index == "IndexHNSWFlat"
    loaded = load_index(tmp_path / "idx")
    queries = embedder.encode_queries(bench_queries(seed_sentences(SEEDS), 50))
    exact = np.argsort(-(queries @ np.asarray(loaded.vectors, dtype=np.float32).T), axis=1)[:, :10]
    _, found = loaded.dense.search(queries, 10)
    recall = np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found, strict=True)])
    assert recall >= 0.95
    hits = Retriever(loaded, embedder, analyzer).search("Какие порты соединит подводный кабель?", 3).hits
    assert len(hits) == 3
