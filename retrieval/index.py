"""The index on disk: build beside the live one, switch atomically, load with checks.

Layout of INDEX_DIR:
    CURRENT            name of the live generation, replaced atomically
    gen-<stamp>/       manifest.json, articles.json, passages.jsonl,
                       vectors.npy, sentence_vectors.npy, dense.faiss, lexical.*
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from retrieval.attribution import ATTRIBUTION_VERSION, passage_speakers
from retrieval.corpus import ARTICLE_SUFFIX, SOURCES_FILE, Article, Corpus, Passage, Source, load_corpus
from retrieval.embedder import Embedder
from retrieval.errors import IndexCorruptError, IndexMissingError, StaleIndexError
from retrieval.lexical import K1, B, LexicalIndex, TermCounts, passage_sentence_counts
from retrieval.text import Analyzer

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
CURRENT_FILE = "CURRENT"
# Exact search is fast and perfect below this size; above it HNSW keeps queries
# in milliseconds (the bench measures its recall against exact search).
EXACT_SEARCH_LIMIT = 20_000
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 512
HNSW_EF_CONSTRUCTION = 80
KEPT_GENERATIONS = 2


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    passages: int
    sentences: int
    articles: int
    corpus_fingerprint: str
    # Everything besides the corpus and the model that shapes the saved matrices: a change
    # in any of them (an upgrade of the analyzer, BM25 constants) rebuilds the index.
    shape_fingerprint: str
    dense_index: str
    built_at: str
    build_seconds: float
    encoded: int = 0  # texts encoded by this build; the rest came from the previous one


@dataclass(frozen=True)
class BuildReport:
    manifest: Manifest
    phase_seconds: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class LoadedIndex:
    manifest: Manifest
    articles: dict[str, Article]
    passages: list[Passage]
    vectors: np.ndarray  # one row per passage
    sentence_vectors: np.ndarray  # one row per sentence, in lexical.sentence_passage order
    dense: faiss.Index
    lexical: LexicalIndex
    folder: Path


def shape_fingerprint(analyzer: Analyzer) -> str:
    parts = {
        "format": FORMAT_VERSION,
        "analyzer": analyzer.fingerprint(),
        "bm25": [K1, B],
        "attribution": ATTRIBUTION_VERSION,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def corpus_fingerprint(seeds_dir: Path) -> str:
    return _fingerprint(_file_digests(Path(seeds_dir)))


def _file_digests(seeds_dir: Path) -> dict[str, str]:
    """File name -> SHA-256 of its bytes, for every file the corpus is read from."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in _corpus_files(seeds_dir)}


def _fingerprint(digests: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, file_digest in digests.items():
        digest.update(name.encode("utf-8") + b"\0" + bytes.fromhex(file_digest))
    return digest.hexdigest()


def _corpus_files(seeds_dir: Path) -> list[Path]:
    files = sorted(seeds_dir.glob(f"*{ARTICLE_SUFFIX}"))
    sources = seeds_dir / SOURCES_FILE
    return files + ([sources] if sources.exists() else [])


class _Phases:
    """Wall time per named build step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started = self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self._started, 3)


def build_index(
    seeds_dir: Path, index_dir: Path, embedder: Embedder, analyzer: Analyzer, corpus: Corpus | None = None
) -> BuildReport:
    """Parse the corpus and build a new generation beside the live one, then switch to it.
    Texts the previous generation already encoded with this model are not encoded again."""
    phases = _Phases()
    seeds_dir, index_dir = Path(seeds_dir), Path(index_dir)
    files = _file_digests(seeds_dir)  # each seed file is read and hashed once per build
    corpus = corpus or load_corpus(seeds_dir)
    digests = {a.article_id: files[a.file_name] for a in corpus.articles}
    phases.done("parse")
    reusable = _reusable(index_dir, embedder, analyzer)
    phases.done("read previous")
    lexical = _lexical(corpus, analyzer, reusable)
    phases.done("lexical")
    vectors, sentence_vectors, encoded = _encode(corpus.passages, embedder, reusable.vectors)
    phases.done("encode")
    dense = _dense_index(vectors, [_text_key(p.text) for p in corpus.passages], reusable)
    phases.done("dense")
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=int(vectors.shape[1]) if len(vectors) else embedder.dimension,
        passages=len(corpus.passages),
        sentences=len(sentence_vectors),
        articles=len(corpus.articles),
        corpus_fingerprint=_fingerprint(files),
        shape_fingerprint=shape_fingerprint(analyzer),
        dense_index=dense_kind(dense),
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        build_seconds=phases.total,
        encoded=encoded,
    )
    previous = _previous_articles(index_dir)
    built = _Built(manifest, corpus, digests, vectors, sentence_vectors, dense, lexical)
    generation = _write_and_switch(index_dir, built)
    _prune(index_dir, keep=generation.name)
    phases.done("write")
    return BuildReport(
        manifest=manifest,
        phase_seconds=phases.seconds,
        warnings=corpus.warnings,
        added=sorted(set(digests) - set(previous)),
        removed=sorted(set(previous) - set(digests)),
        changed=sorted(a for a in set(digests) & set(previous) if digests[a] != previous[a]),
    )


def _lexical(corpus: Corpus, analyzer: Analyzer, reusable: _Reusable) -> LexicalIndex:
    """BM25 fields; a passage also matches the names of who speaks in it where it does not
    name them itself (a quote whose speaker was introduced a paragraph earlier). Sentences
    the live generation holds are not analysed again: their counts are taken over."""
    texts = [s for p in corpus.passages for s in p.sentence_texts()]
    sentence_passage = np.repeat(np.arange(len(corpus.passages)), [len(p.sentences) for p in corpus.passages])
    known = [reusable.sentence_rows.get(_text_key(text)) for text in texts]
    reused = np.asarray([row is not None for row in known], dtype=bool)
    fresh = TermCounts.of(
        [analyzer.terms(text) for text, row in zip(texts, known, strict=True) if row is None]
    )
    reused_rows = [row for row in known if row is not None]
    parts = [fresh]
    if reusable.sentence_counts is not None and reused_rows:
        parts.insert(0, reusable.sentence_counts.rows(reused_rows))
    # the stack holds the reused rows first, then the fresh ones: where each sentence's row is
    order = np.empty(len(texts), dtype=np.int64)
    order[reused] = np.arange(int(reused.sum()))
    order[~reused] = int(reused.sum()) + np.arange(int((~reused).sum()))
    sentences = TermCounts.stack(parts, order)
    own = passage_sentence_counts(sentences, sentence_passage, len(corpus.passages))
    authors = {a.article_id: a.source.author for a in corpus.articles}
    terms_of_name = functools.cache(analyzer.terms)  # a speaker speaks in many passages
    speaker_terms = []
    for row, names in enumerate(passage_speakers(corpus.passages, authors)):
        said = own.terms(row) if names else set()
        speaker_terms.append([t for name in names for t in terms_of_name(name) if t not in said])
    return LexicalIndex.build(sentences, sentence_passage, TermCounts.of(speaker_terms))


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _encode(
    passages: list[Passage], embedder: Embedder, cache: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Passage and sentence vectors (float16 precision, as stored). A one-sentence passage's
    sentence vector is its passage vector; known texts come from `cache`."""
    passage_texts = [p.text for p in passages]
    sentence_texts = [s for p in passages for s in p.sentence_texts()]
    wanted = dict.fromkeys(passage_texts)
    wanted.update(dict.fromkeys(s for p in passages if len(p.sentences) > 1 for s in p.sentence_texts()))
    missing = [t for t in wanted if _text_key(t) not in cache]
    known = {t: cache[_text_key(t)] for t in wanted if _text_key(t) in cache}
    if missing:
        fresh = embedder.encode_passages(missing).astype(np.float16).astype(np.float32)
        known.update(zip(missing, fresh, strict=True))
    empty = np.zeros((0, embedder.dimension), dtype=np.float32)

    def rows(texts: list[str]) -> np.ndarray:
        return np.stack([known[t] for t in texts]).astype(np.float32) if texts else empty

    return rows(passage_texts), rows(sentence_texts), len(missing)


@dataclass(frozen=True)
class _Reusable:
    """What the live generation computed that a new build can take over, by text hash."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # when built with the same model
    # sentences' term counts and each sentence's row in them, when analysed alike
    sentence_counts: TermCounts | None = None
    sentence_rows: dict[str, int] = field(default_factory=dict)
    # its passages' text hashes in row order and its FAISS file, when built with the same model
    passage_keys: list[str] = field(default_factory=list)
    dense_file: Path | None = None


def _reusable(index_dir: Path, embedder: Embedder, analyzer: Analyzer) -> _Reusable:
    """Reads the live generation's passages, vectors and sentence counts, not its BM25
    matrices. Its manifest is read raw: vectors outlive a change of index format."""
    try:
        folder = current_generation(index_dir)
        raw = json.loads((folder / "manifest.json").read_text("utf-8"))
        with open(folder / "passages.jsonl", encoding="utf-8") as rows:
            passages = [json.loads(line) for line in rows]
        texts = [p["text"] for p in passages]
        sentences = [p["text"][start:end] for p in passages for start, end in p["sentences"]]
        same_model = raw["model"] == embedder.name
        same_analysis = raw["shape_fingerprint"] == shape_fingerprint(analyzer)
    except (IndexMissingError, IndexCorruptError, OSError, ValueError, KeyError, TypeError):
        return _Reusable()
    passage_keys = [_text_key(t) for t in texts]
    sentence_keys = [_text_key(t) for t in sentences]
    vectors: dict[str, np.ndarray] = {}
    if same_model:
        try:
            passage_vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r")
            if len(texts) == len(passage_vectors) and len(sentences) == len(sentence_vectors):
                vectors = dict(zip(passage_keys, passage_vectors, strict=True))
                vectors.update(zip(sentence_keys, sentence_vectors, strict=True))
                vectors = {key: np.asarray(vector, dtype=np.float32) for key, vector in vectors.items()}
        except (OSError, ValueError):
            vectors = {}  # a damaged generation: encode everything again
    counts, sentence_rows = None, {}
    if same_analysis:
        try:
            counts = LexicalIndex.read_sentence_counts(folder)
            if counts.counts.shape[0] == len(sentences):
                sentence_rows = {key: row for row, key in enumerate(sentence_keys)}
            else:
                counts = None
        except (OSError, ValueError):
            counts = None  # older generations have no counts: analyse everything again
    dense_file = folder / "dense.faiss" if vectors else None
    return _Reusable(vectors, counts, sentence_rows, passage_keys if vectors else [], dense_file)


@dataclass(frozen=True)
class _Built:
    """Everything a generation folder holds, before it is written."""

    manifest: Manifest
    corpus: Corpus
    digests: dict[str, str]  # article id -> SHA-256 of its file
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: faiss.Index
    lexical: LexicalIndex


def _write_and_switch(index_dir: Path, built: _Built) -> Path:
    """Write a complete generation in a staging folder, rename it, then point CURRENT at it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(f"{index_dir}/.building-{os.getpid()}-{time.time_ns()}")
    try:
        staging.mkdir()
        _write_generation(staging, built)
        generation = index_dir / f"gen-{time.time_ns()}"
        staging.rename(generation)
        _switch_current(index_dir, generation.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return generation


def make_dense_index(vectors: np.ndarray) -> faiss.Index:
    """Exact search up to EXACT_SEARCH_LIMIT vectors; above, an HNSW graph whose ids are the
    passage rows, so that the next build can add to it where rows have moved."""
    dimension = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
    if len(vectors) <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return index
    graph = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    index = faiss.IndexIDMap2(graph)
    index.add_with_ids(
        np.ascontiguousarray(vectors, dtype=np.float32), np.arange(len(vectors), dtype=np.int64)
    )
    return index


def dense_kind(index: faiss.Index) -> str:
    """The search structure's name (the graph's, not its id map's)."""
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
    return type(inner).__name__


def _dense_index(vectors: np.ndarray, keys: list[str], reusable: _Reusable) -> faiss.Index:
    """Building a graph takes seconds per 100k vectors. When every passage of the live
    generation is still there (articles were only added), its graph is read, its ids moved
    to the passages' new rows, and only the new passages' vectors added."""
    if len(vectors) <= EXACT_SEARCH_LIMIT or reusable.dense_file is None:
        return make_dense_index(vectors)
    rows_of: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        rows_of.setdefault(key, []).append(row)
    try:
        moved = np.asarray([rows_of[key].pop(0) for key in reusable.passage_keys], dtype=np.int64)
    except (KeyError, IndexError):  # a passage is gone or changed: the graph cannot drop it
        return make_dense_index(vectors)
    try:
        index = faiss.read_index(str(reusable.dense_file))
    except RuntimeError:
        return make_dense_index(vectors)
    if not isinstance(index, faiss.IndexIDMap2) or index.ntotal != len(moved) or index.d != vectors.shape[1]:
        return make_dense_index(vectors)
    graph = faiss.downcast_index(index.index)
    if graph.hnsw.efConstruction != HNSW_EF_CONSTRUCTION or graph.hnsw.nb_neighbors(1) != HNSW_NEIGHBOURS:
        return make_dense_index(vectors)
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    faiss.copy_array_to_vector(moved[faiss.vector_to_array(index.id_map)], index.id_map)
    index.construct_rev_map()
    new_rows = np.setdiff1d(np.arange(len(vectors)), moved)
    if len(new_rows):
        index.add_with_ids(np.ascontiguousarray(vectors[new_rows], dtype=np.float32), new_rows)
    return index


def _write_generation(folder: Path, built: _Built) -> None:
    manifest, corpus, digests = built.manifest, built.corpus, built.digests
    articles = [
        {
            "article_id": a.article_id,
            "file_name": a.file_name,
            **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(a.source).items()},
            "sha256": digests[a.article_id],
        }
        for a in corpus.articles
    ]
    (folder / "articles.json").write_text(json.dumps(articles, ensure_ascii=False, indent=1), "utf-8")
    with open(folder / "passages.jsonl", "w", encoding="utf-8") as out:
        for p in corpus.passages:
            row = {
                "passage_id": p.passage_id,
                "article_id": p.article_id,
                "position": p.position,
                "text": p.text,
                "sentences": p.sentences,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", built.vectors.astype(np.float16))
    np.save(folder / "sentence_vectors.npy", built.sentence_vectors.astype(np.float16))
    faiss.write_index(built.dense, str(folder / "dense.faiss"))
    built.lexical.save(folder)
    # The manifest goes last: a folder with a manifest is a complete generation.
    (folder / "manifest.json").write_text(json.dumps(asdict(manifest), indent=1), "utf-8")
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _switch_current(index_dir: Path, generation: str) -> None:
    tmp = index_dir / f"{CURRENT_FILE}.tmp-{os.getpid()}"
    tmp.write_text(generation + "\n", "utf-8")
    os.replace(tmp, index_dir / CURRENT_FILE)


def _prune(index_dir: Path, keep: str) -> None:
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir() and p.name != keep)
    for old in generations[: max(0, len(generations) - (KEPT_GENERATIONS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def _previous_articles(index_dir: Path) -> dict[str, str]:
    try:
        folder = current_generation(index_dir)
        rows = json.loads((folder / "articles.json").read_text("utf-8"))
        return {row["article_id"]: row["sha256"] for row in rows}
    except (IndexMissingError, IndexCorruptError, OSError, ValueError, KeyError):
        return {}


def current_generation(index_dir: Path) -> Path:
    pointer = Path(index_dir) / CURRENT_FILE
    if not pointer.is_file():
        raise IndexMissingError(f"no index in {index_dir}: run `python -m retrieval build`")
    folder = Path(index_dir) / pointer.read_text("utf-8").strip()
    if not (folder / "manifest.json").is_file():
        raise IndexCorruptError(f"index {folder} has no manifest: rebuild with `python -m retrieval build`")
    return folder


def read_manifest(index_dir: Path, folder: Path | None = None) -> Manifest:
    folder = folder or current_generation(index_dir)
    try:
        raw = json.loads((folder / "manifest.json").read_text("utf-8"))
        if isinstance(raw, dict) and raw.get("format_version") != FORMAT_VERSION:
            raise StaleIndexError(
                f"index format {raw.get('format_version')}, this code reads {FORMAT_VERSION}: rebuild"
            )
        return Manifest(**raw)
    except (ValueError, TypeError) as exc:
        raise IndexCorruptError(f"manifest of {folder} is unreadable ({exc}): rebuild the index") from None


def check_fresh(
    manifest: Manifest, model: str, seeds_dir: Path | None, analyzer: Analyzer | None = None
) -> None:
    """Raise StaleIndexError when the index does not match this format, model, analyzer or corpus."""
    if manifest.format_version != FORMAT_VERSION:
        raise StaleIndexError(
            f"index format {manifest.format_version}, this code reads {FORMAT_VERSION}: rebuild the index"
        )
    if manifest.model != model:
        raise StaleIndexError(
            f"index was built with model {manifest.model!r}, configured is {model!r}: rebuild"
        )
    if analyzer is not None and manifest.shape_fingerprint != shape_fingerprint(analyzer):
        raise StaleIndexError("the text analysis or scoring code changed since the index was built: rebuild")
    if seeds_dir is not None and manifest.corpus_fingerprint != corpus_fingerprint(Path(seeds_dir)):
        raise StaleIndexError(f"the corpus in {seeds_dir} changed since the index was built: rebuild")


def load_index(index_dir: Path) -> LoadedIndex:
    """Load the live generation; damaged or inconsistent files raise IndexCorruptError."""
    folder = current_generation(index_dir)  # read once: a concurrent build may switch CURRENT
    manifest = read_manifest(index_dir, folder)
    try:
        articles = {}
        for row in json.loads((folder / "articles.json").read_text("utf-8")):
            source = Source(
                outlet=row.get("outlet"),
                title=row.get("title"),
                url=row.get("url"),
                date=dt.date.fromisoformat(row["date"]) if row.get("date") else None,
                author=row.get("author"),
            )
            articles[row["article_id"]] = Article(row["article_id"], row["file_name"], source)
        passages = []
        with open(folder / "passages.jsonl", encoding="utf-8") as rows:
            for line in rows:
                row = json.loads(line)
                row["sentences"] = tuple(tuple(span) for span in row["sentences"])
                passages.append(Passage(**row))
        # mapped, not read: a large index's vectors stay on disk until searched; plain array
        # views of the mapping, since np.memmap's subclass hooks run on every indexing
        vectors = np.load(folder / "vectors.npy", mmap_mode="r").view(np.ndarray)
        sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r").view(np.ndarray)
        dense = faiss.read_index(str(folder / "dense.faiss"))
        lexical = LexicalIndex.load(folder)
    except Exception as exc:  # any damaged part means the same thing to the caller
        raise IndexCorruptError(
            f"index {folder} is damaged ({type(exc).__name__}: {exc}): rebuild it"
        ) from exc
    sizes = {len(passages), vectors.shape[0], dense.ntotal, lexical.passages.weights.shape[0]}
    sentence_sizes = {
        sentence_vectors.shape[0],
        len(lexical.sentence_passage),
        sum(len(p.sentences) for p in passages),
    }
    if sizes != {manifest.passages} or sentence_sizes != {manifest.sentences}:
        raise IndexCorruptError(
            f"index {folder} parts disagree on the passage or sentence count "
            f"{sorted(sizes)} {sorted(sentence_sizes)}: rebuild it"
        )
    return LoadedIndex(manifest, articles, passages, vectors, sentence_vectors, dense, lexical, folder)


def remove_leftovers(index_dir: Path) -> list[str]:
    """Remove what crashed or failed builds left in INDEX_DIR: `.building-<pid>-*` staging
    folders and `CURRENT.tmp-<pid>` files of processes that no longer run, and generations
    beyond KEPT_GENERATIONS (the live one and the newest others are kept). Returns the names
    removed. Safe while another process builds: its files carry a live pid, and its new
    generation is the newest."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    removed = []
    for path in index_dir.iterdir():
        name = path.name
        if name.startswith(".building-") or name.startswith(f"{CURRENT_FILE}.tmp-"):
            pid = name.split("-")[1]
            if pid.isdigit() and _alive(int(pid)):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(name)
    pointer = index_dir / CURRENT_FILE
    live = pointer.read_text("utf-8").strip() if pointer.is_file() else None
    others = sorted((p for p in index_dir.glob("gen-*") if p.is_dir() and p.name != live), reverse=True)
    for old in others[KEPT_GENERATIONS - 1 if live else KEPT_GENERATIONS :]:
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:  # a zombie has exited: its parent died, and nobody has reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc: trust the signal check
        return True
