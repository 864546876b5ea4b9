"""Scale benchmark: a deterministic synthetic Russian corpus of N passages, built and queried
with the production pipeline (same analyzer, index types and Retriever).

Per size: build time and encode throughput (this process), the time to add one article and
reindex, then a fresh process loads the index and measures cold start, warm single-query
latency, resident memory and recall@10 of the production FAISS index against exact search.

The default model encodes ~20 texts a second on two cores: 100k passages and their
sentences would take hours. The build therefore encodes the first SAMPLE texts of each
encode call with the real model and derives the others from them (a random mixture of
MIXED real vectors plus Gaussian noise of the sample's own per-dimension spread,
normalised: vectors in the model's region of the sphere, spread out rather than in tight
clusters of copies), so the index holds vectors of the model's distribution; queries are
always encoded for real. The
output reports the measured encode rate and the projected build time with every text
encoded (`projected_build_s`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.corpus import load_corpus
from retrieval.embedder import Embedder
from retrieval.settings import RetrievalSettings
from retrieval.text import Analyzer

SEED = 20251020
SAMPLE = 400
MIXED = 3
NOISE = 0.3  # of the sample's per-dimension spread
PASSAGES_PER_ARTICLE = 10
QUERIES = 200
_SYLLABLE_TEXT = "ка ра на то ли ме ви до су пе ло ни за ба ру те го ма ди ке"
_SYLLABLES = _SYLLABLE_TEXT.split()
_ENTITY_SWAPS = (
    ("Казахстан", "Узбекистан"), ("Азербайджан", "Кыргызстан"), ("Астан", "Ташкент"),
    ("Баку", "Бишкек"), ("Каспий", "Арал"), ("Алиев", "Мирзиёев"), ("Токаев", "Жапаров"),
)  # fmt: skip


def seed_sentences(seeds_dir: Path) -> list[str]:
    return [s for p in load_corpus(seeds_dir).passages for s in p.sentence_texts() if len(s) > 30]


def synthetic_corpus(sentences: list[str], passages: int, out_dir: Path) -> None:
    """Write `passages` passages as articles of plain paragraphs: seed sentences recombined,
    with numbers, entities and words perturbed, plus Zipf-distributed rare pseudo-words so
    the vocabulary keeps growing with the corpus as a real archive's does."""
    rng = random.Random(SEED)
    pseudo = [
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        + rng.choice(["ов", "ия", "ский", "ность"])
        for _ in range(max(1000, passages // 2))
    ]
    weights = np.cumsum(1.0 / np.arange(1, len(pseudo) + 1))
    out_dir.mkdir(parents=True, exist_ok=True)
    paragraphs: list[str] = []
    article = 0
    for _ in range(passages):
        chosen = [perturb(rng.choice(sentences), rng) for _ in range(rng.randint(1, 3))]
        rare = [pseudo[int(np.searchsorted(weights, rng.random() * weights[-1]))] for _ in range(2)]
        chosen[-1] = chosen[-1].rstrip(".") + f", отметил {rare[0].capitalize()} о проекте «{rare[1]}»."
        paragraphs.append(" ".join(chosen))
        if len(paragraphs) == PASSAGES_PER_ARTICLE:
            (out_dir / f"{article:07d}.txt").write_text("\n\n".join(paragraphs), "utf-8")
            paragraphs, article = [], article + 1
    if paragraphs:
        (out_dir / f"{article:07d}.txt").write_text("\n\n".join(paragraphs), "utf-8")


def perturb(sentence: str, rng: random.Random) -> str:
    sentence = re.sub(r"\d+", lambda m: str(rng.randint(1, 999)), sentence)
    for old, new in _ENTITY_SWAPS:
        if old in sentence and rng.random() < 0.3:
            sentence = sentence.replace(old, new)
    words = sentence.split()
    if len(words) > 6:
        del words[rng.randrange(1, len(words) - 1)]
        i = rng.randrange(1, len(words) - 2)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def bench_queries(sentences: list[str], count: int) -> list[str]:
    rng = random.Random(SEED + 1)
    queries = []
    for _ in range(count):
        words = perturb(rng.choice(sentences), rng).split()
        start = rng.randrange(0, max(1, len(words) - 6))
        queries.append(" ".join(words[start : start + rng.randint(4, 9)]).strip('.,«»"') + "?")
    return queries


class SampledEmbedder:
    """The real embedder for up to SAMPLE texts per call; beyond that, vectors derived from
    the real ones (see the module docstring). Counts what it encoded for real and how long
    that took, for the encode rate."""

    def __init__(self, embedder: Embedder, sample: int = SAMPLE) -> None:
        self.inner = embedder
        self.name, self.dimension, self.calibration = embedder.name, embedder.dimension, embedder.calibration
        self.sample = sample
        self.real_texts = 0
        self.real_seconds = 0.0
        self.derived_texts = 0
        self._rng = np.random.default_rng(SEED)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        real = self.inner.encode_passages(texts[: self.sample])
        self.real_seconds += time.perf_counter() - started
        self.real_texts += len(real)
        rest = len(texts) - len(real)
        if rest <= 0:
            return real
        self.derived_texts += rest
        weights = self._rng.dirichlet(np.ones(MIXED), rest).astype(np.float32)
        base = np.einsum("nm,nmd->nd", weights, real[self._rng.integers(0, len(real), (rest, MIXED))])
        noisy = base + NOISE * real.std(axis=0) * self._rng.standard_normal(base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        return np.concatenate([real, noisy.astype(np.float32)])


def run_bench(settings: RetrievalSettings, sizes: list[int], as_json: bool, queries: int = QUERIES) -> int:
    from retrieval.embedder import load_embedder
    from retrieval.index import build_index
    from retrieval.text import Analyzer

    sentences = seed_sentences(settings.seeds_dir)
    analyzer = Analyzer()
    rows = []
    for size in sizes:
        embedder = SampledEmbedder(load_embedder(settings.embedding_model))
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{size}-"))
        try:
            synthetic_corpus(sentences, size, workdir / "seeds")
            started = time.perf_counter()
            report = build_index(workdir / "seeds", workdir / "index", embedder, analyzer)
            build_s = time.perf_counter() - started
            encode_per_s = embedder.real_texts / max(embedder.real_seconds, 1e-9)
            projected = build_s - embedder.real_seconds + report.manifest.encoded / encode_per_s
            add_one = _add_one_article(workdir, sentences, embedder, analyzer)
            serve = _serve_in_fresh_process(
                workdir, settings.embedding_model, bench_queries(sentences, queries)
            )
            rows.append(
                {
                    "passages": report.manifest.passages,
                    "sentences": report.manifest.sentences,
                    "build_s": round(build_s, 2),
                    "encode_per_s": round(encode_per_s, 1),
                    "encoded_real": embedder.real_texts,
                    "encoded_derived": embedder.derived_texts,
                    "projected_build_s": round(projected, 1),
                    "phases_s": report.phase_seconds,
                    "dense_index": report.manifest.dense_index,
                    **add_one,
                    **serve,
                    "disk_mb": round(_folder_mb(workdir / "index"), 1),
                }
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if as_json:
            print(json.dumps(rows[-1]), flush=True)
    if not as_json:
        print(render_table(rows))
    return 0


def _add_one_article(workdir: Path, sentences: list[str], embedder: Embedder, analyzer: Analyzer) -> dict:
    """Reindex after adding one article of PASSAGES_PER_ARTICLE paragraphs: only its texts
    are encoded (for real: they are fewer than SAMPLE)."""
    from retrieval.index import build_index

    rng = random.Random(SEED + 2)
    article = "\n\n".join(perturb(rng.choice(sentences), rng) for _ in range(PASSAGES_PER_ARTICLE))
    (workdir / "seeds" / "zz-added.txt").write_text(article, "utf-8")
    started = time.perf_counter()
    report = build_index(workdir / "seeds", workdir / "index", embedder, analyzer)
    return {
        "add_article_s": round(time.perf_counter() - started, 2),
        "add_article_encoded": report.manifest.encoded,
    }


TABLE_COLUMNS = (
    ("passages", "passages"),
    ("build s", "build_s"),
    ("encode texts/s", "encode_per_s"),
    ("projected full build s", "projected_build_s"),
    ("add one article s", "add_article_s"),
    ("index", "dense_index"),
    ("cold start s", "cold_start_s"),
    ("query p50 ms", "query_p50_ms"),
    ("query p95 ms", "query_p95_ms"),
    ("RSS MB", "rss_mb"),
    ("disk MB", "disk_mb"),
    ("recall@10", "recall_at_10"),
)


def markdown_table(columns: tuple[tuple[str, str], ...], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(key, "-")) for _, key in columns) + " |" for r in rows]
    return "\n".join(lines)


def render_table(rows: list[dict]) -> str:
    table = markdown_table(TABLE_COLUMNS, rows)
    if len(rows) >= 2:
        growth = rows[-1]["query_p95_ms"] / max(rows[0]["query_p95_ms"], 1e-9)
        table += f"\n\nquery p95 growth {rows[0]['passages']} -> {rows[-1]['passages']}: x{growth:.2f}"
    return table


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _serve_in_fresh_process(workdir: Path, model: str, queries: list[str]) -> dict:
    (workdir / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), "utf-8")
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "retrieval.bench", str(workdir), model, str(started)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench serve process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _serve(workdir: Path, model: str, launched_at: float) -> dict:
    """In a fresh process: load model and index, then measure queries, memory and recall."""
    import faiss
    import psutil

    from retrieval.embedder import load_embedder
    from retrieval.index import load_index
    from retrieval.search import Retriever
    from retrieval.text import Analyzer

    retriever = Retriever(load_index(workdir / "index"), load_embedder(model), Analyzer())
    queries = json.loads((workdir / "queries.json").read_text("utf-8"))
    retriever.search("Сколько соглашений подписали стороны?", 3)  # first query warms caches
    cold_start = time.time() - launched_at
    timings = []
    for query in queries:
        started = time.perf_counter()
        retriever.search(query, 10)
        timings.append((time.perf_counter() - started) * 1000)
    vectors = np.asarray(retriever.index.vectors, dtype=np.float32)
    query_vectors = retriever.embedder.encode_queries(queries)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    k = min(10, len(vectors))
    _, truth = exact.search(query_vectors, k)
    _, found = retriever.index.dense.search(query_vectors, k)
    recall = np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found, strict=True)])
    return {
        "cold_start_s": round(cold_start, 2),
        "query_p50_ms": round(float(np.percentile(timings, 50)), 2),
        "query_p95_ms": round(float(np.percentile(timings, 95)), 2),
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "recall_at_10": round(float(recall), 4),
    }


if __name__ == "__main__":
    print(json.dumps(_serve(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]))))
    sys.exit(0)
