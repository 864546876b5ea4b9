"""Opening a Retriever for a settings triple: load the index, or build it when missing or stale."""

from __future__ import annotations

import logging
from pathlib import Path

from retrieval.corpus import Corpus
from retrieval.embedder import Embedder
from retrieval.errors import IndexCorruptError, IndexMissingError, StaleIndexError
from retrieval.index import BuildReport, build_index, check_fresh, load_index, read_manifest
from retrieval.search import Retriever
from retrieval.text import Analyzer

log = logging.getLogger(__name__)


def open_retriever(
    seeds_dir: Path, index_dir: Path, embedder: Embedder, analyzer: Analyzer
) -> tuple[Retriever, BuildReport | None]:
    """Load the live index; rebuild it (reporting why) when it is missing, damaged or stale."""
    try:
        check_fresh(read_manifest(index_dir), embedder.name, seeds_dir, analyzer)
        return Retriever(load_index(index_dir), embedder, analyzer), None
    except (IndexMissingError, IndexCorruptError, StaleIndexError) as reason:
        log.warning("%s; building the index now", reason)
    return build_retriever(seeds_dir, index_dir, embedder, analyzer)


def build_retriever(
    seeds_dir: Path, index_dir: Path, embedder: Embedder, analyzer: Analyzer, corpus: Corpus | None = None
) -> tuple[Retriever, BuildReport]:
    """Build a new generation (of `corpus` when already parsed) and open a Retriever on it."""
    report = build_index(seeds_dir, index_dir, embedder, analyzer, corpus)
    return Retriever(load_index(index_dir), embedder, analyzer), report
