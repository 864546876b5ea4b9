"""The corpus: seed files (plus sources.toml) parsed into articles and their passages."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomlkit

from retrieval.errors import CorpusError
from retrieval.text import clean_text, sentence_spans

log = logging.getLogger(__name__)

ARTICLE_SUFFIX = ".txt"
SOURCES_FILE = "sources.toml"
SOURCE_KEYS = frozenset({"outlet", "title", "url", "date", "author"})
MAX_ARTICLE_BYTES = 5_000_000
# Long paragraphs are cut into passages of whole sentences near this size, so that
# one passage stays quotable in a Telegram message and its vector stays focused.
MAX_PASSAGE_CHARS = 1500

_HEADER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})[ \t]*")
_AUTHOR = re.compile(r"^Автор:[ \t]*(.+)$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class Source:
    outlet: str | None = None
    title: str | None = None
    url: str | None = None
    date: dt.date | None = None
    author: str | None = None


@dataclass(frozen=True)
class Passage:
    """A quotable unit: one paragraph (or a slice of a very long one), verbatim."""

    passage_id: str
    article_id: str
    position: int
    text: str
    sentences: tuple[tuple[int, int], ...]

    def sentence_texts(self) -> list[str]:
        return [self.text[start:end] for start, end in self.sentences]


@dataclass(frozen=True)
class Article:
    article_id: str
    file_name: str
    source: Source
    passages: tuple[Passage, ...] = field(default_factory=tuple)

    @property
    def date(self) -> dt.date | None:
        return self.source.date

    def label(self) -> str:
        """Who published or wrote it, for citing: outlet, else author, else the file name."""
        return self.source.outlet or self.source.author or self.file_name


class CorpusWarning(str):
    """A warning's English text, plus what callers need to say it in their own words: `code`
    ("empty", "duplicate", "orphan_source"), the file `name`, and the `other` file involved."""

    code: str
    name: str
    other: str | None

    def __new__(cls, text: str, code: str, name: str, other: str | None = None) -> CorpusWarning:
        warning = super().__new__(cls, text)
        warning.code, warning.name, warning.other = code, name, other
        return warning


@dataclass(frozen=True)
class Corpus:
    articles: tuple[Article, ...]
    warnings: tuple[CorpusWarning, ...] = ()

    @property
    def passages(self) -> list[Passage]:
        return [p for a in self.articles for p in a.passages]


def load_corpus(seeds_dir: Path) -> Corpus:
    """Parse every article in seeds_dir; empty files are skipped with a warning."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise CorpusError(str(seeds_dir), "corpus folder does not exist")
    sources = load_sources(seeds_dir / SOURCES_FILE)
    articles: list[Article] = []
    warnings: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(seeds_dir.glob(f"*{ARTICLE_SUFFIX}")):
        text = read_article_text(path)
        article = parse_article(path.name, text, sources.get(path.name))
        if article is None:
            warnings.append(CorpusWarning(f"{path.name}: no text in it, skipped", "empty", path.name))
            continue
        digest = text_digest(text)
        if digest in seen:
            text = f"{path.name}: same text as {seen[digest]}, skipped"
            warnings.append(CorpusWarning(text, "duplicate", path.name, seen[digest]))
            continue
        seen[digest] = path.name
        articles.append(article)
    names = {a.file_name for a in articles} | {p.name for p in seeds_dir.glob(f"*{ARTICLE_SUFFIX}")}
    for name in sorted(set(sources) - names):
        text = f"{SOURCES_FILE} names {name}, which is not an article file"
        warnings.append(CorpusWarning(text, "orphan_source", name, SOURCES_FILE))
    for warning in warnings:
        log.warning("%s", warning)
    return Corpus(tuple(articles), tuple(warnings))


def text_digest(text: str) -> str:
    """Identity of an article's text, blind to whitespace and invisible characters."""
    return hashlib.sha256(" ".join(clean_text(text).split()).encode("utf-8")).hexdigest()


def read_article_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_ARTICLE_BYTES:
        raise CorpusError(
            path.name, f"file is {size} bytes, more than the {MAX_ARTICLE_BYTES} allowed", "too_big"
        )
    return decode_article(path.name, path.read_bytes())


def decode_article(name: str, data: bytes) -> str:
    if b"\x00" in data:
        raise CorpusError(name, "binary file, not text", "binary")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(name, f"not UTF-8 text (bad byte at offset {exc.start})", "not_utf8") from None


def load_sources(path: Path) -> dict[str, Source]:
    if not path.exists():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(path.name, f"not valid TOML: {exc}", "bad_sources") from None
    sources = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise CorpusError(path.name, f"[{name!s}] must be a table of outlet/title/url/date/author")
        unknown = sorted(set(entry) - SOURCE_KEYS)
        if unknown:
            raise CorpusError(
                path.name, f"[{name}] has unknown keys {unknown}; allowed: {sorted(SOURCE_KEYS)}"
            )
        sources[name] = Source(
            outlet=_opt_str(path, name, entry, "outlet"),
            title=_opt_str(path, name, entry, "title"),
            url=_opt_str(path, name, entry, "url"),
            date=_opt_date(path, name, entry.get("date")),
            author=_opt_str(path, name, entry, "author"),
        )
    return sources


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data so that a crash leaves the old file or the new one, never a part:
    a staging file beside it, fsync, rename, fsync of the folder (the rename itself is durable
    only then). The staging file is removed when anything fails."""
    staging = path.with_name(f".{path.name}.uploading")
    try:
        with open(staging, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)
    except BaseException:
        with contextlib.suppress(OSError):
            staging.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_source(seeds_dir: Path, name: str, source: Source | None) -> Source | None:
    """Set (or with None remove) one article's entry in sources.toml, keeping every other entry
    and the comments; written atomically. Returns the entry it replaced."""
    path = Path(seeds_dir) / SOURCES_FILE
    previous = load_sources(path).get(name)  # also refuses to edit a file that is already broken
    document = tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()
    if name in document:
        del document[name]
    if source is not None:
        table = tomlkit.table()
        for f in fields(Source):
            value = getattr(source, f.name)
            if value is not None:
                table[f.name] = value
        if len(table):
            document[name] = table
    write_atomic(path, tomlkit.dumps(document).encode("utf-8"))
    return previous


def _opt_str(path: Path, name: str, entry: dict, key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CorpusError(path.name, f"[{name}] {key} must be a string, got {value!r}")
    return value.strip() or None


def _opt_date(path: Path, name: str, value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CorpusError(path.name, f"[{name}] date must be YYYY-MM-DD, got {value!r}") from None


def parse_article(file_name: str, text: str, source: Source | None = None) -> Article | None:
    """Parse one article's text; None when it holds no paragraphs."""
    text = clean_text(text).strip("\n")
    header_date = None
    header = _HEADER.match(text)
    if header:
        try:
            header_date = dt.date.fromisoformat(header.group(1))
        except ValueError:
            raise CorpusError(
                file_name, f"bad date in header: {header.group(1)!r}", "bad_header_date"
            ) from None
        text = text[header.end() :]
    paragraphs = split_paragraphs(text)
    author = None
    if paragraphs:
        first = _AUTHOR.match(paragraphs[0])
        if first:
            author = first.group(1).strip()
            rest = paragraphs[0][first.end() :].strip()
            paragraphs = ([rest] if rest else []) + paragraphs[1:]
    if not paragraphs:
        return None
    source = source or Source()
    source = Source(
        outlet=source.outlet,
        title=source.title,
        url=source.url,
        date=source.date or header_date,
        author=source.author or author,
    )
    article_id = Path(file_name).stem
    return Article(article_id, file_name, source, tuple(_passages(article_id, paragraphs)))


def split_paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; a file without any blank line has one per line."""
    blocks = _BLANK_LINES.split(text) if _BLANK_LINES.search(text) else text.split("\n")
    paragraphs = [b.strip() for b in blocks if b.strip()]
    return _join_lead_ins(paragraphs)


def _join_lead_ins(paragraphs: list[str]) -> list[str]:
    """A paragraph ending in a colon introduces the next one (usually a quote): keep them together."""
    joined: list[str] = []
    for paragraph in paragraphs:
        if joined and joined[-1].endswith(":") and len(joined[-1]) < MAX_PASSAGE_CHARS:
            joined[-1] = f"{joined[-1]}\n\n{paragraph}"
        else:
            joined.append(paragraph)
    return joined


def _passages(article_id: str, paragraphs: list[str]) -> list[Passage]:
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for chunk in (c for p in paragraphs for c in _chunks(p)):
        digest = hashlib.sha1(chunk.encode("utf-8")).hexdigest()[:10]
        seen[digest] = seen.get(digest, 0) + 1
        suffix = "" if seen[digest] == 1 else f"-{seen[digest]}"
        passages.append(
            Passage(
                passage_id=f"{article_id}:{digest}{suffix}",
                article_id=article_id,
                position=len(passages),
                text=chunk,
                sentences=tuple(sentence_spans(chunk)),
            )
        )
    return passages


def _chunks(paragraph: str) -> list[str]:
    """Split an over-long paragraph between sentences (hard-cut a sentence that alone is too long)."""
    if len(paragraph) <= MAX_PASSAGE_CHARS:
        return [paragraph]
    chunks: list[str] = []
    start = 0
    for sentence_start, sentence_end in sentence_spans(paragraph):
        if sentence_end - start > MAX_PASSAGE_CHARS and sentence_start > start:
            chunks.append(paragraph[start:sentence_start])
            start = sentence_start
        while sentence_end - start > MAX_PASSAGE_CHARS:
            cut = _hard_cut(paragraph, start)
            chunks.append(paragraph[start:cut])
            start = cut
    chunks.append(paragraph[start:])
    return [c.strip() for c in chunks if c.strip()]


def _hard_cut(paragraph: str, start: int) -> int:
    limit = start + MAX_PASSAGE_CHARS
    space = paragraph.rfind(" ", start + MAX_PASSAGE_CHARS // 2, limit)
    return space if space > start else limit
