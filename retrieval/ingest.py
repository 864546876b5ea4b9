"""New articles from outside the seed folder: uploaded .txt/.md/.html files, metadata given as
`key: value` lines, and safe file names. Pure functions: no Telegram, no disk."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

from markdown_it import MarkdownIt

from retrieval.corpus import ARTICLE_SUFFIX, Source
from retrieval.errors import UploadRejectedError

FORMATS = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_NAME_CHARS = 80

# Russian, Kazakh and Azerbaijani letters without an ASCII decomposition.
_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
        "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
        "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
        "ә": "a", "ғ": "g", "қ": "q", "ң": "n", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
        "ə": "e", "ı": "i", "ş": "sh", "ç": "ch", "ğ": "g", "ß": "ss", "æ": "ae", "ø": "o",
    }
)  # fmt: skip
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_DASHES = re.compile(r"-{2,}")

# Caption keys in the bot's four languages, to the sources.toml field they set.
CAPTION_KEYS = {
    "источник": "outlet",
    "издание": "outlet",
    "outlet": "outlet",
    "source": "outlet",
    "автор": "author",
    "author": "author",
    "дата": "date",
    "date": "date",
    "заголовок": "title",
    "название": "title",
    "title": "title",
    "ссылка": "url",
    "url": "url",
    "link": "url",
    "mənbə": "outlet",
    "müəllif": "author",
    "tarix": "date",
    "başlıq": "title",
    "дереккөз": "outlet",
    "күні": "date",
    "тақырып": "title",
    "сілтеме": "url",
}
_KEY_LINE = re.compile(r"^\s*([^\W\d_]+)\s*:\s*(.*?)\s*$")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y")


def safe_file_name(name: str | None, default: str = "article") -> str:
    """A seed file name from anything a user may send: folders dropped, letters transliterated,
    spaces to dashes, only [a-z0-9._-], the .txt ending. Same input, same name."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base
    for suffix in FORMATS:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = unicodedata.normalize("NFKC", stem).lower().translate(_TRANSLIT)
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    stem = _DASHES.sub("-", _UNSAFE.sub("-", stem.replace(" ", "-"))).strip(".-_")
    stem = stem[:MAX_NAME_CHARS].rstrip(".-_") or default
    return stem + ARTICLE_SUFFIX


def article_format(name: str | None) -> str | None:
    """The upload's format by its ending ("txt", "md", "html"), None when not accepted."""
    lowered = (name or "").lower()
    for suffix in FORMATS:
        if lowered.endswith(suffix):
            return {"markdown": "md", "htm": "html"}.get(suffix[1:], suffix[1:])
    return None


def to_plain_text(kind: str, text: str) -> str:
    """An article's paragraphs as plain text (blank lines between them)."""
    if kind == "html":
        return html_paragraphs(text)
    if kind == "md":
        return html_paragraphs(MarkdownIt("commonmark").render(text))
    return text


# -- HTML ----------------------------------------------------------------------------------
_SKIPPED = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "svg",
        "iframe",
        "head",
    ]
)
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "td",
        "th",
        "dd",
        "dt",
        "figcaption",
        "section",
        "article",
        "main",
        "br",
    ]
)
_VOID = frozenset(
    ["br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"]
)


class _Paragraphs(HTMLParser):
    """Text of block elements, one paragraph each; skipped elements contribute nothing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skip_stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self._skip_stack or tag in _SKIPPED:
            if tag not in _VOID:
                self._skip_stack.append(tag)
            return
        if tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_stack:
            if tag in self._skip_stack:  # tolerate unclosed children
                while self._skip_stack and self._skip_stack.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip_stack:
            self._current.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.paragraphs.append(text)
        self._current = []

    def close(self) -> None:
        super().close()
        self._flush()


def html_paragraphs(markup: str) -> str:
    parser = _Paragraphs()
    parser.feed(markup)
    parser.close()
    return "\n\n".join(parser.paragraphs)


# -- metadata ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptionProblem:
    """A caption line that could not be used: `code` names the kind (the bot words it in the
    admin's language, bot/locales `caption_<code>`), `text` is the line, key or value at fault."""

    code: Literal["bad_line", "no_value", "bad_date", "bad_url"]
    text: str


@dataclass(frozen=True)
class Caption:
    """What an upload's caption says: metadata, and the lines that could not be used."""

    source: Source
    problems: tuple[CaptionProblem, ...] = ()


def parse_date(value: str) -> dt.date | None:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def parse_caption(text: str | None) -> Caption:
    """`key: value` lines (источник/outlet, автор/author, дата/date, заголовок/title,
    ссылка/url, or the Azerbaijani and Kazakh keys) into a Source; problems name each line
    that was not understood."""
    fields: dict[str, object] = {}
    problems: list[CaptionProblem] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = _KEY_LINE.match(line)
        key = CAPTION_KEYS.get(match.group(1).lower()) if match else None
        if key is None:
            problems.append(CaptionProblem("bad_line", line.strip()))
            continue
        value = match.group(2)
        if not value:
            problems.append(CaptionProblem("no_value", match.group(1)))
        elif key == "date":
            date = parse_date(value)
            if date is None:
                problems.append(CaptionProblem("bad_date", value))
            else:
                fields["date"] = date
        elif key == "url" and not re.match(r"^https?://\S+$", value):
            problems.append(CaptionProblem("bad_url", value))
        else:
            fields[key] = value
    return Caption(Source(**fields), tuple(problems))


def merge_sources(base: Source, override: Source) -> Source:
    """Fields of override where it has them, else base's."""
    return Source(
        **{k: getattr(override, k) or getattr(base, k) for k in ("outlet", "title", "url", "date", "author")}
    )


def channel_post(
    text: str,
    channel_title: str | None,
    username: str | None,
    chat_id: int,
    message_id: int,
    date: dt.datetime,
) -> tuple[str, Source]:
    """A forwarded channel post as (file name, metadata): the channel as outlet, the post's
    date, and its public link when the channel has a username."""
    handle = username or f"c{abs(chat_id)}"
    name = safe_file_name(f"tg-{handle}-{message_id}")
    url = f"https://t.me/{username}/{message_id}" if username else None
    return name, Source(outlet=channel_title or username, url=url, date=date.date())


def require_text(name: str, text: str) -> str:
    if not text.strip():
        raise UploadRejectedError(f"в файле {name} нет текста статьи")
    return text
