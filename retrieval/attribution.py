"""Who speaks in a quoted passage, read from the passage and the one before it.

News texts attribute words in a few fixed ways: "«…», — сказал Рустем Бектрумов",
"Косбаева отметила, что…", "По словам Ишмухамедова, …", and, once a speaker is
introduced, "Он подчеркнул…", "По её словам…", "— отметил эксперт". This module finds
those cues with regular expressions (no model) and resolves a pronoun or a bare role
("эксперт") to the nearest named speaker before it. It names nobody when unsure:
a wrong name under a quote is worse than none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.corpus import Passage

_NAME_WORD = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD})?"  # a surname, or first name and surname
_VERB = (
    r"(?:отметил|заявил|подчеркнул|сказал|добавил|напомнил|пояснил|рассказал|сообщил|назвал|выразил"
    r"|указал|предложил|выделил|охарактеризовал|прокомментировал|привёл|привел|констатировал"
    r"|процитировал|обратил|считает|полагает|уверен)(?:а|и|о)?\b"
)
_ROLE = r"(?:эксперт|политолог|аналитик|депутат|экономист|собеседник|глава государства)"
_PRONOUN = r"(?:он|она|они)"
_ADVERB = r"(?:также\s+|уже\s+|ещё\s+|еще\s+|тогда\s+|отдельно\s+)?"

# «…», — сказал Рустем Бектрумов / », - подчеркнул он / », — отметил эксперт
_AFTER_QUOTE = re.compile(
    rf"[»\"”]\s*,?\s*[-—–]\s*{_VERB}\s+(?P<who>{_NAME}|{_PRONOUN}\b|{_ROLE}\b)", re.IGNORECASE
)
# Косбаева отметила / Он подчеркнул / Эксперт также подчеркнул
_SUBJECT = re.compile(rf"(?P<who>(?<![\w-]){_NAME}|\b(?i:{_PRONOUN})|\b(?i:{_ROLE}))\s+{_ADVERB}(?i:{_VERB})")
# По словам Ишмухамедова, / По мнению депутата Милли Меджлиса, / По её словам,
_ACCORDING = re.compile(
    r"\b[Пп]о\s+(?:(?P<pronoun>его|её|ее|их)\s+(?:словам|мнению)"
    r"|(?P<kind>словам|мнению|оценке)\s+(?P<who>[^,.:;!?«»\"—]{3,80}?))(?=[,.:;!?—]|$)"
)
# The speaker's name after a comma, in an apposition headed by a role: "По мнению депутата
# Милли Меджлиса, члена … рабочей группы Айдына Гусейнова, визит…"
_APPOSITION = re.compile(
    r",\s+(?:члена|директора|руководителя|председателя|заместителя|эксперта|аналитика|политолога"
    r"|депутата|профессора|сотрудника|советника|помощника|министра|посла|ректора|экономиста)"
    rf"\s[^,.:;!?«»\"—]{{0,160}}?(?<![\w-])(?P<name>{_NAME_WORD}\s+{_NAME_WORD})(?=\s*,)"
)
# An introduction: "поделился эксперт …, этномедиатор Рустем Бектрумов."
_INTRODUCED = re.compile(rf"\b(?:{_ROLE}|этномедиатор|помощник|министр)\b", re.IGNORECASE)
_CAPITALISED_RUN = re.compile(rf"(?<![\w-]){_NAME_WORD}(?:\s+{_NAME_WORD})+(?![\w-])")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_ROLE_ONLY = re.compile(rf"^{_ROLE}[а-я]*$", re.IGNORECASE)
# Capitalised words that start a sentence but are no one's name.
_NOT_NAMES_TEXT = """
    Как Также Кроме Однако Это Эти Этот Такой Такая Казахстан Азербайджан Баку Астана Стороны Россия
    Турция Политолог Эксперт Аналитик Депутат
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_QUOTE_OPEN = "«“„"
_QUOTE_CLOSE = "»”"
# Bump when a change here changes who is found speaking (the index matches their names).
ATTRIBUTION_VERSION = 2
MAX_BACK = 2000  # how far back in the passages before a speaker is looked for
PASSAGES_BACK = 3  # passages before one where its speaker may be introduced (as the bot reads)
_ACCORDING_PREFIX = re.compile(r"^по\s+(?:словам|мнению|оценке)\s+")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    who: str  # the name as written, or "по словам …"
    refers_back: bool  # a pronoun or a bare role: the speaker is someone named earlier


# a passage is read for each of its sentences and as the next ones' context
@functools.lru_cache(maxsize=4096)
def mentions(text: str) -> tuple[Mention, ...]:
    """Every attribution cue in the text, in order."""
    found: list[Mention] = []
    for match in _AFTER_QUOTE.finditer(text):
        found.append(_mention(match.start("who"), match.end(), match.group("who")))
    for match in _SUBJECT.finditer(text):
        who = match.group("who")
        if who.split()[0] in _NOT_NAMES and not _ROLE_ONLY.match(who):
            continue
        found.append(_mention(match.start("who"), match.end(), who))
    for match in _ACCORDING.finditer(text):
        if match.group("pronoun"):
            found.append(Mention(match.start(), match.end(), "", True))
            continue
        who = " ".join(match.group("who").split())
        end = match.end()
        apposition = _APPOSITION.match(text, end)
        if apposition:  # named after the apposition: "депутата …, члена … Айдына Гусейнова"
            who, end = f"{who} {apposition.group('name')}", apposition.end()
        refers_back = bool(_ROLE_ONLY.match(who))
        found.append(Mention(match.start(), end, f"по {match.group('kind')} {who}", refers_back))
    for match in _INTRODUCED.finditer(text):
        end = _SENTENCE_END.search(text, match.end())
        clause = text[match.end() : end.start() if end else len(text)]
        runs = [run.group().split() for run in _CAPITALISED_RUN.finditer(clause)]
        if runs:  # "…интеграции Казахстана Амина Косбаева": the name is the run's last two words
            found.append(Mention(match.start(), match.end() + len(clause), " ".join(runs[-1][-2:]), False))
    found.sort(key=lambda m: m.start)
    return tuple(_dedupe(found))


def _mention(start: int, end: int, who: str) -> Mention:
    refers_back = bool(re.fullmatch(rf"{_PRONOUN}|{_ROLE}", who, re.IGNORECASE))
    return Mention(start, end, who, refers_back)


def _dedupe(found: list[Mention]) -> list[Mention]:
    """Overlapping cues ("сказал Рустем Бектрумов" seen by two patterns): keep the named one."""
    kept: list[Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            if kept[-1].refers_back and not mention.refers_back:
                kept[-1] = mention
            continue
        kept.append(mention)
    return kept


def _inside_quote(text: str, position: int) -> bool:
    before = text[:position]
    opened = sum(before.count(q) for q in _QUOTE_OPEN) - sum(before.count(q) for q in _QUOTE_CLOSE)
    return opened > 0 or before.count('"') % 2 == 1


def _named_before(text: str, position: int) -> str | None:
    named = [m for m in mentions(text) if m.start < position and not m.refers_back]
    return named[-1].who if named else None


def speaker(text: str, span: tuple[int, int], previous: str | None = None) -> str | None:
    """Who says the words at `span` of the passage `text`; `previous` is the text before the
    passage (a paragraph or a few), where a pronoun's speaker may have been named."""
    back = (previous or "")[-MAX_BACK:]
    return _speaker(text, span, lambda: _named_before(back, len(back)))


def _speaker(text: str, span: tuple[int, int], named_earlier: Callable[[], str | None]) -> str | None:
    """`speaker`, with the last speaker named before the passage asked for only when needed."""
    start, end = span
    found = mentions(text)
    own = [m for m in found if start <= m.start < end]
    opening = len(text[start:end]) - len(text[start:end].lstrip())
    quoted = _inside_quote(
        text, start + opening + (text[start + opening : start + opening + 1] in _QUOTE_OPEN)
    )
    if not own and quoted:  # a quote: its speaker follows the closing mark
        own = [m for m in found if m.start >= end][:1]
    if not own:
        own = [m for m in found if m.start < start][-1:]
    if not own:
        opens_quote = text.lstrip()[:1] in _QUOTE_OPEN + '"'
        return named_earlier() if opens_quote else None
    mention = own[0]
    if not mention.refers_back:
        return mention.who
    return _named_before(text, mention.start) or named_earlier()


def _named_in(texts: list[str]) -> str | None:
    """The last speaker named in these passages (in order), each read once (`mentions` caches)."""
    for text in reversed(texts):
        named = _named_before(text, len(text))
        if named:
            return named
    return None


def passage_speakers(passages: Sequence[Passage], authors: Mapping[str, str | None]) -> list[tuple[str, ...]]:
    """Who speaks in each passage (`passages` in article order): the names its sentences are
    attributed to, else the article's author, in whose voice an authored column speaks.
    Search matches these names, so that "что сказал Бектрумов о …" finds his quotes."""
    found = []
    for i, passage in enumerate(passages):
        earlier = [
            p.text for p in passages[max(0, i - PASSAGES_BACK) : i] if p.article_id == passage.article_id
        ]
        named_earlier = functools.cache(lambda earlier=earlier: _named_in(earlier))
        names = [_speaker(passage.text, span, named_earlier) for span in passage.sentences]
        unique = dict.fromkeys(_ACCORDING_PREFIX.sub("", n) for n in names if n)
        author = authors.get(passage.article_id)
        if not unique and author:
            unique = {author.split(",")[0].strip(): None}  # "Кенуль Нуруллаева, депутат …"
        found.append(tuple(unique))
    return found
