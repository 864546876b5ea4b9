"""Pure rendering: search results to Telegram HTML messages, answer first.

A reply at `high` confidence opens with the sentence that answers (verbatim, bold), who
says it and where it was published; the paragraph follows in a collapsed
`<blockquote expandable>`, so the first screen stays short on a phone. Further passages
appear only where they add something (another article or another fact); "Ещё" has the rest.
At `low` the closest passages come under a header that says they do not answer exactly;
at `none` the reply says so and `Reply.suggestions` holds topics the articles do cover.

Article and user text is always escaped; trimming happens on plain text before escaping,
so a cut can never fall inside a tag or an entity. Lengths are counted in UTF-16 code
units, as Telegram counts them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser

from bot import suggest
from bot.texts import Texts
from retrieval.attribution import speaker
from retrieval.corpus import Article, Passage
from retrieval.results import Hit, SearchResult
from retrieval.service import ArticleSummary

TELEGRAM_LIMIT = 4096  # UTF-16 code units
QUOTE_CHARS = 900  # a longer paragraph is trimmed around its highlight inside the quote
ANSWER_CHARS = 400  # the bold answering sentence(s)
ECHO_CHARS = 200  # a question quoted back
# What a collapsed expandable quote shows of itself: about three lines on a phone.
COLLAPSED_PREVIEW = 120
# The first screen of a high-confidence answer stays within this many visible characters:
# a further passage joins the answer only if it adds something and still fits.
FIRST_SCREEN = 700
LOW_PASSAGES = 2
# A further passage must score at least this share of the top one to count as related; at
# low confidence the top one does not answer either, so the runner-up gets a wider margin.
RELATED_SHARE = 0.8
LOW_RELATED_SHARE = 0.5
SAME_FACT_OVERLAP = 0.5  # word overlap above which two highlights state the same fact
CONTEXT_CHARS = 1200  # each neighbouring paragraph shown by "Контекст"
ELLIPSIS = "…"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Reply:
    """The messages of one answer, which hits they show, and what the buttons need."""

    messages: list[str]
    shown: tuple[Hit, ...] = ()
    next_offset: int | None = None  # where "Ещё" continues; None when nothing is left
    suggestions: tuple[str, ...] = ()  # topics to offer when nothing answers


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits(message: str) -> bool:
    """Within Telegram's limit; the markup is never shorter than the text it shows."""
    return utf16_len(message) <= TELEGRAM_LIMIT


def date_text(date: dt.date | None, t: Texts) -> str:
    return t.undated if date is None else t.date(date.day, date.month, date.year)


def _link(shown: str, url: str | None) -> str:
    """`shown` is HTML already."""
    return f'<a href="{html.escape(url, quote=True)}">{shown}</a>' if url else shown


def source_line(article: Article, t: Texts) -> str:
    """ "Источник: outlet (a link when the URL is known), «title», date · автор: …"; an article
    with no outlet leads with its author, still labelled as author, never as the source."""
    src = article.source
    author = t.author_label.format(author=html.escape(src.author)) if src.author else None
    title = f"«{html.escape(src.title)}»" if src.title else None
    if src.outlet:
        lead = f"{t.source_label}: {_link(html.escape(src.outlet), src.url)}"
    elif author:
        lead, author = _link(author[0].upper() + author[1:], src.url), None
    else:
        lead, title = f"{t.source_label}: {_link(title or html.escape(article.file_name), src.url)}", None
    line = ", ".join(x for x in (lead, title, date_text(article.date, t)) if x)
    return f"{line} · {author}" if author else line


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


def echo(question: str) -> str:
    """A question quoted back: one line, at most ECHO_CHARS."""
    echo = " ".join(question.split())
    return _cut_right(echo, ECHO_CHARS) + ELLIPSIS if len(echo) > ECHO_CHARS else echo


def _span(hit: Hit) -> tuple[int, int]:
    spans = hit.highlight or ((0, len(hit.passage.text)),)
    return spans[0][0], spans[-1][1]


def answer_text(hit: Hit, budget: int = ANSWER_CHARS) -> str:
    """The answering sentence(s), verbatim; non-adjacent ones joined by an ellipsis."""
    text = hit.passage.text
    spans = hit.highlight or ((0, len(text)),)
    pieces = [text[spans[0][0] : spans[0][1]]]
    for (_, prev_end), (start, end) in itertools.pairwise(spans):
        gap = text[prev_end:start]
        pieces.append(gap + text[start:end] if not gap.strip() else f" {ELLIPSIS} " + text[start:end])
    joined = "".join(pieces).strip()
    return _cut_right(joined, budget) + ELLIPSIS if len(joined) > budget else joined


def quote_html(hit: Hit, budget: int = QUOTE_CHARS) -> str:
    """The passage, trimmed around its highlight, the highlight in bold."""
    start, end = _span(hit)
    before, highlight, after = trim_around(hit.passage.text, start, end, budget)
    return f"{html.escape(before)}<b>{html.escape(highlight)}</b>{html.escape(after)}"


def hit_block(hit: Hit, t: Texts, previous: str | None = None) -> str:
    """One passage, answer first: the sentence in bold, its speaker, the source, then the whole
    paragraph collapsed. Shrinks the quote until the block fits one message."""
    sentence = answer_text(hit)
    who = speaker(hit.passage.text, _span(hit), previous)
    head = f"<b>{html.escape(sentence)}</b>"
    if who and who.split()[-1] not in sentence:  # "— отметил Ишмухамедов" needs no second line
        head += f"\n— {html.escape(who)}"
    head += f"\n{source_line(hit.article, t)}"
    if hit.passage.text.strip() == sentence:  # the paragraph is that sentence: nothing to expand
        return head
    budget = QUOTE_CHARS
    while True:
        block = f"{head}\n<blockquote expandable>{quote_html(hit, budget)}</blockquote>"
        if fits(block) or budget < 50:
            return block
        budget = budget * 2 // 3


def pack(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join blocks into as few messages as fit the limit, splitting only between blocks."""
    messages: list[str] = []
    for block in blocks:
        if messages and utf16_len(messages[-1]) + 2 + utf16_len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if len(w) > 2}


def adds_something(hit: Hit, shown: list[Hit], top: Hit, share: float = RELATED_SHARE) -> bool:
    """Another article, or another fact of the same one, and close enough to the top in score."""
    if top.score > 0 and hit.score < share * top.score:
        return False
    words = _words(hit.highlight_text or hit.passage.text)
    for other in shown:
        if other.passage.passage_id == hit.passage.passage_id:
            return False
        theirs = _words(other.highlight_text or other.passage.text)
        overlap = len(words & theirs) / max(1, min(len(words), len(theirs)))
        if other.article.article_id == hit.article.article_id and overlap >= SAME_FACT_OVERLAP:
            return False
        if overlap >= 0.8:  # the same sentence reprinted by another outlet
            return False
    return True


def first_screen_chars(message: str) -> int:
    """Visible characters before the reader expands anything: collapsed quotes count only
    their preview."""
    parser = _Visible()
    parser.feed(message)
    parser.close()
    return parser.outside + sum(min(n, COLLAPSED_PREVIEW) for n in parser.collapsed)


def _header(result: SearchResult, t: Texts, asked: bool) -> list[str]:
    lines = []
    if asked:  # an answer to a button tap says which question it answers
        lines.append(t.you_asked.format(question=html.escape(echo(result.query))))
    if result.context:
        lines.append(f"<i>{t.followup_note.format(question=html.escape(echo(result.context)))}</i>")
    return lines


def answer(
    result: SearchResult,
    t: Texts,
    before: Mapping[str, str] | None = None,
    asked: bool = False,
    seen: frozenset[str] = frozenset(),
) -> Reply:
    """The first reply to a question. `before` maps a passage id to the text before that passage
    (for naming a speaker introduced there); `asked` marks an answer to a button tap; `seen`
    holds the passages the answer this one follows up already quoted."""
    before = before or {}
    header = _header(result, t, asked)
    if result.confidence == "none" or not result.hits:
        return no_answer(result, t, header)
    if result.confidence == "low" and result.hits[0].passage.passage_id in seen:
        # Only near the topic, and nearest is what the user has just read: say so rather
        # than quote it again, and quote what else is near.
        header.append(t.followup_nothing_new)
        fresh = [i for i, h in enumerate(result.hits) if h.passage.passage_id not in seen]
        if not fresh:
            return Reply(["\n".join(header)])
        others = dataclasses.replace(result, hits=tuple(result.hits[i] for i in fresh))
        reply = _quotes(others, t, before, header, t.followup_also_near)
        # "Ещё" searches again and counts in the full list
        more_from = fresh[reply.next_offset] if reply.next_offset is not None else None
        return dataclasses.replace(reply, next_offset=more_from)
    return _quotes(result, t, before, header)


def _quotes(
    result: SearchResult,
    t: Texts,
    before: Mapping[str, str],
    header: list[str],
    low_header: str | None = None,
) -> Reply:
    """The top passage and those that add something, under `header` (and, when the confidence
    is low, `low_header`: the catalogue's by default)."""
    top = result.hits[0]
    shown = [top]
    blocks = [hit_block(top, t, before.get(top.passage.passage_id))]
    limit = 1 + (LOW_PASSAGES - 1 if result.confidence == "low" else len(result.hits))
    for hit in result.hits[1:]:
        share = LOW_RELATED_SHARE if result.confidence == "low" else RELATED_SHARE
        if len(shown) >= limit or not adds_something(hit, shown, top, share):
            continue
        block = hit_block(hit, t, before.get(hit.passage.passage_id))
        screen = first_screen_chars("\n\n".join([*header, *blocks, block]))
        if result.confidence == "high" and screen > FIRST_SCREEN:
            break
        shown.append(hit)
        blocks.append(block)
    if result.confidence == "low":
        header.append(low_header or t.low_header)
    if header:
        blocks[0] = "\n".join(header) + "\n\n" + blocks[0]
    rest = [h for h in result.hits if h not in shown]
    return Reply(pack(blocks), tuple(shown), len(shown) if rest else None)


def more(
    result: SearchResult, offset: int, page_size: int, t: Texts, before: Mapping[str, str] | None = None
) -> Reply:
    """The passages after those already shown ("Ещё"), page_size of them."""
    before = before or {}
    hits = result.hits[offset : offset + page_size]
    if not hits:
        return Reply([t.no_more])
    blocks = [hit_block(hit, t, before.get(hit.passage.passage_id)) for hit in hits]
    blocks[0] = f"{t.more_header.format(question=html.escape(echo(result.query)))}\n\n{blocks[0]}"
    end = offset + len(hits)
    return Reply(pack(blocks), tuple(hits), end if end < len(result.hits) else None)


def no_answer(result: SearchResult, t: Texts, header: list[str] | None = None) -> Reply:
    """An honest no; the suggestions are topics of the nearest passages, not what was asked."""
    topics = suggest.topics([h.passage.text for h in result.hits], result.query)
    if not topics:
        asked = result.query.strip().lower()
        topics = tuple(q for q in t.examples if q.lower() != asked)[: suggest.LIMIT]
    lines = [*(header or []), t.no_answer.format(question=html.escape(echo(result.query)))]
    lines.append("")
    lines.append(t.no_answer_suggest if topics else t.no_answer_hint)
    return Reply(["\n".join(lines)], suggestions=topics)


def context_message(
    passage: Passage, article: Article, neighbours: tuple[Passage | None, Passage | None], t: Texts
) -> str:
    """The paragraph before and after a quoted one ("Контекст"), the quoted one in bold."""
    previous, following = neighbours
    if previous is None and following is None:
        return t.context_none
    parts = [t.context_header]
    for paragraph, strong in ((previous, False), (passage, True), (following, False)):
        if paragraph is None:
            continue
        text = paragraph.text
        if len(text) > CONTEXT_CHARS:
            text = _cut_right(text, CONTEXT_CHARS) + ELLIPSIS
        parts.append(
            f"<b>{html.escape(text)}</b>" if strong else f"<blockquote>{html.escape(text)}</blockquote>"
        )
    parts.append(source_line(article, t))
    message = "\n\n".join(parts)
    return message if fits(message) else "\n\n".join([parts[0], parts[-1]])


def outlets(summaries: list[ArticleSummary]) -> str:
    """The outlets the index quotes, for the greeting (authors where an article names no outlet)."""
    sources = [s.article.source for s in summaries]
    names = sorted({s.outlet for s in sources if s.outlet}, key=str.lower)
    authors = sorted({s.author.split(",")[0] for s in sources if s.author and not s.outlet}, key=str.lower)
    return html.escape(", ".join(names + authors) or "—")


def newest_first(summary: ArticleSummary) -> tuple:
    """Sort key: the newest article first, undated ones last, then by file name."""
    date = summary.article.date
    return (date is None, -(date or dt.date.min).toordinal(), summary.article.file_name)


def sources_messages(summaries: list[ArticleSummary], t: Texts) -> list[str]:
    if not summaries:
        return [t.sources_empty]
    ordered = sorted(summaries, key=newest_first)
    prefix = f"{t.source_label}: "  # the header says these are sources: no prefix on every line
    lines = [
        f"{n}. {source_line(s.article, t).removeprefix(prefix)} — {s.passages} {t.passages_word}"
        for n, s in enumerate(ordered, 1)
    ]
    return pack([t.sources_header.format(count=len(ordered)), *lines], TELEGRAM_LIMIT)


class _Visible(HTMLParser):
    """Counts visible characters inside and outside expandable quotes; `plain` collects the
    text for a terminal, bold as *…*."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outside = 0
        self.collapsed: list[int] = []
        self.plain: list[str] = []
        self._in_collapsed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "blockquote":
            self._in_collapsed = any(name == "expandable" for name, _ in attrs)
            if self._in_collapsed:
                self.collapsed.append(0)
            self.plain.append("  > ")
        elif tag == "b":
            self.plain.append("*")

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._in_collapsed = False
        elif tag == "b":
            self.plain.append("*")

    def handle_data(self, data: str) -> None:
        self.plain.append(data)
        if self._in_collapsed:
            self.collapsed[-1] += len(data)
        else:
            self.outside += len(data)


def to_plain(message: str) -> str:
    """A rendered message as plain text for the console: one renderer, two outputs."""
    parser = _Visible()
    parser.feed(message)
    parser.close()
    return "".join(parser.plain)


@dataclass(frozen=True)
class InlineEntry:
    """One inline-mode result: what the list shows, and the message choosing it sends."""

    result_id: str
    title: str
    description: str
    message: str


INLINE_TITLE_CHARS = 120


def _plain_source(article: Article, t: Texts) -> str:
    return f"{article.label()}, {date_text(article.date, t)}"


def inline_entries(
    result: SearchResult, t: Texts, before: Mapping[str, str], bot_link: str | None, limit: int
) -> list[InlineEntry]:
    """The best passages as inline results: the answering sentence as the title; choosing one
    sends it with speaker, source, date and link, and a link that asks the bot itself."""
    if result.confidence == "none" or not result.hits:
        question = html.escape(echo(result.query))
        return [
            InlineEntry(
                "none",
                t.inline_nothing_title,
                echo(result.query),
                t.inline_nothing_text.format(question=question),
            )
        ]
    entries = []
    for hit in result.hits[:limit]:
        previous = before.get(hit.passage.passage_id)
        message = hit_block(hit, t, previous)
        if bot_link:
            message += f'\n<a href="{html.escape(bot_link, quote=True)}">{t.inline_more}</a>'
        who = speaker(hit.passage.text, _span(hit), previous)
        description = " · ".join(x for x in (who, _plain_source(hit.article, t)) if x)
        if result.confidence == "low":
            description = f"{t.low_marker}: {description}"
        result_id = hashlib.sha1(hit.passage.passage_id.encode("utf-8")).hexdigest()[:32]
        entries.append(InlineEntry(result_id, answer_text(hit, INLINE_TITLE_CHARS), description, message))
    return entries
