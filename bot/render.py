"""Pure rendering: search results to Telegram HTML messages (and plain text for the console).

Article and user text is always escaped; trimming happens on plain text before
escaping, so a cut can never fall inside a tag or an entity.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from bot.texts import Texts
from retrieval.corpus import Article
from retrieval.results import Hit, SearchResult
from retrieval.service import ArticleSummary

TELEGRAM_LIMIT = 4096
# A quote longer than this is trimmed around its highlight, so several fit a message.
QUOTE_CHARS = 1100
ECHO_CHARS = 200
ELLIPSIS = "…"


@dataclass(frozen=True)
class Page:
    messages: list[str]
    shown: int  # how many hits this page showed
    has_more: bool


def date_text(date: dt.date | None, t: Texts) -> str:
    return t.undated if date is None else t.date(date.day, date.month, date.year)


def source_line(article: Article, t: Texts) -> str:
    who = html.escape(article.label())
    if article.source.url:
        who = f'<a href="{html.escape(article.source.url, quote=True)}">{who}</a>'
    title = f", «{html.escape(article.source.title)}»" if article.source.title else ""
    return f"{t.source_label}: {who}{title}, {date_text(article.date, t)}"


def trim_around(text: str, start: int, end: int, budget: int) -> tuple[str, str, str]:
    """(before, highlight, after) of text, at most `budget` characters in all, cut at spaces,
    with an ellipsis wherever something was left out."""
    if end - start >= budget:
        cut = _cut_right(text[start:end], budget)
        return (ELLIPSIS if start > 0 else ""), cut + ELLIPSIS, ""
    room = budget - (end - start)
    before_room = min(start, room // 2)
    after_room = min(len(text) - end, room - before_room)
    before_room = min(start, room - after_room)
    before = text[start - before_room : start]
    after = text[end : end + after_room]
    if before_room < start:
        before = ELLIPSIS + _cut_left(before)
    if after_room < len(text) - end:
        after = _cut_right(after, len(after)) + ELLIPSIS
    return before, text[start:end], after


def _cut_right(text: str, limit: int) -> str:
    piece = text[:limit]
    space = piece.rfind(" ")
    return (piece[:space] if space > limit // 2 else piece).rstrip()


def _cut_left(text: str) -> str:
    space = text.find(" ")
    return (text[space + 1 :] if 0 <= space < len(text) // 2 else text).lstrip()


def quote_html(hit: Hit, budget: int = QUOTE_CHARS) -> str:
    text = hit.passage.text
    spans = hit.highlight or ((0, len(text)),)
    start, end = spans[0][0], spans[-1][1]
    before, highlight, after = trim_around(text, start, end, budget)
    return f"{html.escape(before)}<b>{html.escape(highlight)}</b>{html.escape(after)}"


def hit_block(number: int, hit: Hit, t: Texts) -> str:
    """One quoted passage with its source line; shrinks the quote until the block fits."""
    budget = QUOTE_CHARS
    while True:
        block = f"{number}. <blockquote>{quote_html(hit, budget)}</blockquote>\n{source_line(hit.article, t)}"
        if len(block) <= TELEGRAM_LIMIT or budget < 50:
            return block
        budget = budget * 2 // 3


def pack(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join blocks into as few messages as fit the limit, splitting only between blocks."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


def answer_page(result: SearchResult, offset: int, page_size: int, t: Texts) -> Page:
    """The hits offset..offset+page_size as messages; has_more when further hits exist."""
    if result.abstained:
        return Page([no_answer(result.query, t)], 0, False)
    hits = result.hits[offset : offset + page_size]
    if not hits:
        return Page([t.no_more], 0, False)
    blocks = [hit_block(offset + i + 1, hit, t) for i, hit in enumerate(hits)]
    if offset:
        header = t.more_header.format(question=html.escape(_echo(result.query)))
        blocks[0] = f"{header}\n\n{blocks[0]}"
    return Page(pack(blocks), len(hits), len(result.hits) > offset + len(hits))


def _echo(question: str) -> str:
    echo = question.strip()
    return _cut_right(echo, ECHO_CHARS) + ELLIPSIS if len(echo) > ECHO_CHARS else echo


def no_answer(question: str, t: Texts) -> str:
    return f"{t.no_answer.format(question=html.escape(_echo(question)))}\n\n{t.no_answer_hint}"


def outlets(summaries: list[ArticleSummary]) -> str:
    """The outlets the index quotes, for the greeting (authors where an article names no outlet)."""
    sources = [s.article.source for s in summaries]
    outlets = sorted({s.outlet for s in sources if s.outlet}, key=str.lower)
    authors = sorted({s.author.split(",")[0] for s in sources if s.author and not s.outlet}, key=str.lower)
    return html.escape(", ".join(outlets + authors) or "—")


def sources_messages(summaries: list[ArticleSummary], t: Texts) -> list[str]:
    if not summaries:
        return [t.sources_empty]
    ordered = sorted(summaries, key=lambda s: (s.article.date or dt.date.min, s.article.file_name))
    lines = []
    for n, summary in enumerate(ordered, 1):
        article = summary.article
        author = article.source.author if article.source.outlet and article.source.author else None
        extra = f" ({html.escape(author)})" if author else ""
        lines.append(
            f"{n}. {source_line(article, t)}{extra} — {summary.passages} {t.passages_word}"
            f"\n    <code>{html.escape(article.file_name)}</code>"
        )
    return pack([t.sources_header.format(count=len(ordered)), *lines], TELEGRAM_LIMIT)


def plain_answer(result: SearchResult, offset: int, page_size: int, t: Texts) -> str:
    """The same page for a terminal: no markup, the highlight between asterisks."""
    if result.abstained:
        examples = "\n".join(f"  – {q}" for q in t.examples)
        return f"{t.no_answer.format(question=result.query.strip())}\n{t.no_answer_hint}\n{examples}"
    hits = result.hits[offset : offset + page_size]
    if not hits:
        return t.no_more
    blocks = []
    for number, hit in enumerate(hits, offset + 1):
        text = hit.passage.text
        spans = hit.highlight or ((0, len(text)),)
        before, highlight, after = trim_around(text, spans[0][0], spans[-1][1], QUOTE_CHARS)
        title = f", «{hit.article.source.title}»" if hit.article.source.title else ""
        source = f"{t.source_label}: {hit.article.label()}{title}, {date_text(hit.article.date, t)}"
        blocks.append(f"{number}. {before}*{highlight}*{after}\n   {source}")
    return "\n\n".join(blocks)
