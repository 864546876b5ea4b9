"""The one object the bot talks to: questions, the article list, reindexing and uploads.

Blocking work runs off the event loop: searches on a small thread pool, builds on a
thread of their own, so questions keep being answered while an index is built.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from retrieval.corpus import Article, Passage, decode_article, parse_article, text_digest
from retrieval.embedder import Embedder
from retrieval.engine import build_retriever, open_retriever
from retrieval.errors import (
    ArticleExistsError,
    CorpusError,
    ReindexBusyError,
    RetrievalError,
    UploadRejectedError,
)
from retrieval.index import BuildReport, check_fresh, load_index, remove_leftovers
from retrieval.results import SearchResult
from retrieval.search import Retriever
from retrieval.text import Analyzer

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[\w][\w.-]{0,98}\.txt$")
SEARCH_THREADS = 2


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded article that passed `QAService.check_upload`."""

    name: str
    data: bytes
    overwrite: bool


@dataclass(frozen=True)
class ArticleSummary:
    article: Article
    passages: int


@dataclass(frozen=True)
class Surroundings:
    """The passages around one passage of its article, nearest last in `before`."""

    before: tuple[Passage, ...]
    after: tuple[Passage, ...]


class QAService:
    def __init__(
        self,
        retriever: Retriever,
        seeds_dir: Path,
        index_dir: Path,
        embedder: Embedder,
        analyzer: Analyzer,
        max_upload_bytes: int = 1_000_000,
    ) -> None:
        self._retriever = retriever
        self.seeds_dir = Path(seeds_dir)
        self.index_dir = Path(index_dir)
        self._embedder = embedder
        self._analyzer = analyzer
        self.max_upload_bytes = max_upload_bytes
        self._search_pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
        self._build_pool = ThreadPoolExecutor(1, thread_name_prefix="build")
        self._reindex_lock = asyncio.Lock()
        # Why the live index is older than the corpus (its last rebuild failed), or None.
        self.stale_reason: str | None = None
        self._positions: tuple[list[Passage], dict[str, int]] | None = None

    @classmethod
    def open(
        cls, seeds_dir: Path, index_dir: Path, embedder: Embedder, analyzer: Analyzer, **kw
    ) -> QAService:
        """Load the index, building it when missing or stale, after removing what crashed
        builds and uploads left behind. When that build fails for any reason (a broken corpus,
        a full disk) and a good index exists, start on it: `stale_reason` then says why."""
        seeds_dir, index_dir = Path(seeds_dir), Path(index_dir)
        _remove_leftovers(seeds_dir, index_dir)
        stale_reason = None
        try:
            retriever, report = open_retriever(seeds_dir, index_dir, embedder, analyzer)
            if report:
                log.info("built index: %d passages", report.manifest.passages)
        except Exception as problem:  # whatever stopped the build, a good index still answers
            retriever = _last_good(index_dir, embedder, analyzer)
            if retriever is None:
                raise
            _remove_leftovers(seeds_dir, index_dir)
            stale_reason = str(problem) if isinstance(problem, RetrievalError) else repr(problem)
            log.error(
                "could not bring the index up to date (%s); serving the last good one, %s",
                stale_reason,
                retriever.index.folder.name,
            )
        service = cls(retriever, seeds_dir, index_dir, embedder, analyzer, **kw)
        service.stale_reason = stale_reason
        return service

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    @property
    def reindexing(self) -> bool:
        return self._reindex_lock.locked()

    async def ask(self, query: str, k: int, context: str | None = None) -> SearchResult:
        """Search off the event loop; `context` is the previous question of a follow-up."""
        retriever = self._retriever  # one snapshot per question, even if a reindex swaps meanwhile
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._search_pool, functools.partial(retriever.search, query, k, context=context)
        )

    async def surroundings(
        self, passage_ids: list[str], before: int = 3, after: int = 1
    ) -> dict[str, Surroundings]:
        """For each passage id: up to `before` passages before it and `after` after it in its
        article (for naming a speaker introduced earlier, and for the "Контекст" button)."""
        passages = self._retriever.index.passages
        loop = asyncio.get_running_loop()
        find = functools.partial(self._surroundings, passages, passage_ids, before, after)
        return await loop.run_in_executor(self._search_pool, find)

    async def passage(self, passage_id: str) -> tuple[Passage, Article] | None:
        """One passage by id, with its article (for a shared link); None when it is gone."""
        index = self._retriever.index
        loop = asyncio.get_running_loop()
        i = await loop.run_in_executor(self._search_pool, self._position, index.passages, passage_id)
        if i is None or index.passages[i].article_id not in index.articles:
            return None
        return index.passages[i], index.articles[index.passages[i].article_id]

    def _position(self, passages: list[Passage], passage_id: str) -> int | None:
        cached = self._positions
        if cached is None or cached[0] is not passages:  # built once per index
            cached = (passages, {p.passage_id: i for i, p in enumerate(passages)})
            self._positions = cached
        return cached[1].get(passage_id)

    def _surroundings(
        self, passages: list[Passage], passage_ids: list[str], before: int, after: int
    ) -> dict[str, Surroundings]:
        """Passages are stored in article order: neighbours are adjacent entries of one article."""
        found: dict[str, Surroundings] = {}
        for passage_id in passage_ids:
            i = self._position(passages, passage_id)
            if i is None:
                continue
            article = passages[i].article_id
            prev = [p for p in passages[max(0, i - before) : i] if p.article_id == article]
            nxt = [p for p in passages[i + 1 : i + 1 + after] if p.article_id == article]
            found[passage_id] = Surroundings(tuple(prev), tuple(nxt))
        return found

    def articles(self) -> list[ArticleSummary]:
        index = self._retriever.index
        counts: dict[str, int] = {}
        for passage in index.passages:
            counts[passage.article_id] = counts.get(passage.article_id, 0) + 1
        return [ArticleSummary(a, counts.get(a.article_id, 0)) for a in index.articles.values()]

    async def reindex(self) -> BuildReport:
        """Build a new index beside the live one and swap it in only if the build succeeded."""
        if self._reindex_lock.locked():
            raise ReindexBusyError("a reindex is already running")
        async with self._reindex_lock:
            loop = asyncio.get_running_loop()
            retriever, report = await loop.run_in_executor(self._build_pool, self._build)
            self._retriever = retriever
            self.stale_reason = None
            return report

    def _build(self) -> tuple[Retriever, BuildReport]:
        try:
            return build_retriever(self.seeds_dir, self.index_dir, self._embedder, self._analyzer)
        except Exception:
            remove_leftovers(self.index_dir)
            raise

    def check_upload(self, file_name: str | None, data: bytes, overwrite: bool = False) -> CheckedUpload:
        """Validate an uploaded article once: name, size, encoding, text, no duplicate, and no
        overwrite unless asked for. Nothing is written."""
        name = os.path.basename((file_name or "").replace("\\", "/"))
        if name != (file_name or "") or not _SAFE_NAME.match(name) or ".." in name:
            raise UploadRejectedError(
                f"unsafe file name {file_name!r}: use letters, digits, '.', '-', '_' and the .txt ending"
            )
        if len(data) > self.max_upload_bytes:
            raise UploadRejectedError(
                f"{name}: {len(data)} bytes, more than the {self.max_upload_bytes} allowed"
            )
        try:
            text = decode_article(name, data)
            article = parse_article(name, text)
        except CorpusError as problem:
            raise UploadRejectedError(str(problem)) from None
        if article is None:
            raise UploadRejectedError(f"{name}: the file has no text")
        if (self.seeds_dir / name).exists() and not overwrite:
            raise ArticleExistsError(f"{name} already exists")
        digest = text_digest(text)
        for existing in sorted(self.seeds_dir.glob("*.txt")):
            same = text_digest(existing.read_bytes().decode("utf-8", "replace")) == digest
            if same and existing.name != name:
                raise UploadRejectedError(f"{name}: same text as the existing article {existing.name}")
        return CheckedUpload(name, data, overwrite)

    async def add_article(self, upload: CheckedUpload) -> BuildReport:
        """Store a checked article in the corpus (atomically) and reindex."""
        if self._reindex_lock.locked():
            raise ReindexBusyError("a reindex is already running")
        target = self.seeds_dir / upload.name
        if target.exists() and not upload.overwrite:  # another admin was faster
            raise ArticleExistsError(f"{upload.name} already exists")
        staging = self.seeds_dir / f".{upload.name}.uploading"
        staging.write_bytes(upload.data)
        os.replace(staging, target)
        return await self.reindex()

    def close(self) -> None:
        self._search_pool.shutdown(wait=False, cancel_futures=True)
        self._build_pool.shutdown(wait=False, cancel_futures=True)


def _last_good(index_dir: Path, embedder: Embedder, analyzer: Analyzer) -> Retriever | None:
    """The live generation when it loads and suits this model, else None."""
    try:
        index = load_index(index_dir)
        check_fresh(index.manifest, embedder.name, seeds_dir=None)
    except RetrievalError as problem:
        log.error("no good index to fall back on: %s", problem)
        return None
    return Retriever(index, embedder, analyzer)


def _remove_leftovers(seeds_dir: Path, index_dir: Path) -> None:
    """Staging files of uploads and builds that a crash interrupted."""
    removed = remove_leftovers(index_dir)
    for partial in seeds_dir.glob(".*.uploading"):
        partial.unlink(missing_ok=True)
        removed.append(partial.name)
    if removed:
        log.warning("removed leftovers of interrupted builds or uploads: %s", ", ".join(sorted(removed)))
