"""User-facing texts, one catalogue per language (bot/locales/<lang>.toml), chosen by the user's
Telegram language_code with Russian as the fallback.

`Texts` is the schema: every text the bot says has a field here and a value in ru.toml. Other
catalogues translate all of them (tests/test_texts.py checks); one left out falls back to Russian. Loading
checks that no catalogue has unknown keys and that a translation keeps exactly the
placeholders of the Russian text, so `format` can never fail at run time.

Texts are Telegram HTML: they may hold markup of their own, never article or user text (that
is escaped where it is inserted). Quotes from the articles stay verbatim Russian.
"""

from __future__ import annotations

import dataclasses
import functools
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from telegram import User

LOCALES = Path(__file__).resolve().parent / "locales"
FALLBACK = "ru"
LANGUAGES = ("ru", "en", "az", "kk")


class CatalogueError(ValueError):
    """A catalogue that does not match the schema; raised at import, never at run time."""


@dataclass(frozen=True)
class Texts:
    lang: str
    # greeting, help, profile
    start: str
    help: str
    help_admin: str  # appended to the help for admins
    description: str  # setMyDescription: shown before the user presses Start (<= 512)
    short_description: str  # setMyShortDescription: profile page and shares (<= 120)
    commands: dict[str, str]  # command -> its description in the menu
    admin_commands: dict[str, str]  # added to the menu of admins only (chat-scoped)
    examples: tuple[str, ...]
    # small talk
    greeting_reply: str
    thanks_reply: str
    abilities_reply: str
    unknown_command: str
    console_examples: str  # the terminal chat (python -m bot --console)
    console_prompt: str
    # answers
    date_format: str
    months: tuple[str, ...]
    undated: str
    source_label: str
    author_label: str
    low_header: str
    low_marker: str
    no_answer: str
    no_answer_suggest: str
    no_answer_hint: str
    more_header: str
    no_more: str
    button_expired: str
    context_header: str
    context_none: str
    followup_note: str
    followup_nothing_new: str  # a follow-up whose nearest passage the previous answer quoted
    followup_also_near: str  # then heads the other passages near the topic
    you_asked: str
    # buttons
    more_button: str
    context_button: str
    share_button: str
    share_text: str
    # inline mode
    inline_help_title: str
    inline_help_text: str
    inline_more: str
    inline_nothing_title: str
    inline_nothing_text: str
    # the article list
    sources_header: str
    sources_empty: str
    passages_word: str
    # bad input and trouble
    empty_question: str
    question_too_short: str
    question_too_long: str
    non_text: str
    flood: str
    error: str
    # admin
    not_admin: str
    reindex_started: str
    reindex_busy: str
    reindex_done: str
    reindex_failed: str
    reindex_warnings: str
    index_stale: str  # sent to each admin at start when the start-up rebuild failed
    nothing: str
    upload_not_txt: str
    upload_rejected: str
    upload_exists: str
    upload_replace: str
    upload_cancel: str
    upload_cancelled: str
    upload_expired: str
    upload_saved: str
    upload_renamed: str
    upload_save_failed: str
    problem_format: str
    problem_too_big: str
    problem_binary: str
    problem_not_utf8: str
    problem_empty: str
    problem_duplicate: str
    problem_bad_header_date: str
    problem_bad_text: str
    problem_bad_sources: str
    problem_disk_full: str
    problem_disk: str
    problem_missing: str
    caption_problems: str
    caption_bad_line: str  # one line of caption_problems' list, per CaptionProblem.code
    caption_no_value: str
    caption_bad_date: str
    caption_bad_url: str
    metadata_saved: str
    metadata_labels: dict[str, str]
    post_no_text: str
    warning_empty: str
    warning_duplicate: str
    warning_orphan_source: str
    post_not_channel: str
    # admin: the article list, deleting, confirmations
    articles_header: str
    articles_empty: str
    articles_item: str
    articles_prev: str
    articles_next: str
    article_head_button: str
    article_delete_button: str
    article_head: str
    article_gone: str
    delete_confirm: str
    delete_yes: str
    deleted: str
    confirm_expired: str
    cancelled: str
    reindex_shrink: str
    reindex_shrink_yes: str
    # admin: statistics and the question log
    stats_header: str
    stats_empty: str
    stats_per_day: str
    stats_confidence: str
    stats_latency: str
    stats_feedback: str
    stats_reasons: str
    stats_missed: str
    export_caption: str
    export_empty: str
    # feedback under answers
    vote_thanks: str
    vote_why: str
    reason_wrong_passage: str
    reason_no_answer: str
    reason_wrong_source: str
    reason_thanks: str
    vote_gone: str

    def date(self, day: int, month: int, year: int) -> str:
        return self.date_format.format(day=day, month=self.months[month - 1], year=year)


_FIELDS = {f.name: f for f in dataclasses.fields(Texts) if f.name != "lang"}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _coerce(lang: str, key: str, value: object, russian: object) -> object:
    kind = _FIELDS[key].type
    if kind == "str":
        if not isinstance(value, str):
            raise CatalogueError(f"{lang}.toml: {key} must be a string, got {value!r}")
        if placeholders(value) != placeholders(str(russian)):
            raise CatalogueError(
                f"{lang}.toml: {key} has placeholders {sorted(placeholders(value))}, "
                f"ru.toml has {sorted(placeholders(str(russian)))}"
            )
        return value
    if kind == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogueError(f"{lang}.toml: {key} must be a list of strings")
        if key == "months" and len(value) != 12:
            raise CatalogueError(f"{lang}.toml: months must name 12 months, got {len(value)}")
        return tuple(value)
    if not isinstance(value, dict) or set(value) != set(russian):  # commands, labels: the same keys
        raise CatalogueError(f"{lang}.toml: {key} must describe {sorted(russian)}")
    return dict(value)


def _read(lang: str, folder: Path) -> dict[str, object]:
    raw = tomllib.loads((folder / f"{lang}.toml").read_text("utf-8"))
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise CatalogueError(f"{lang}.toml: unknown keys {unknown}")
    return raw


def load(lang: str, russian: dict[str, object] | None = None, folder: Path = LOCALES) -> Texts:
    """One catalogue, completed from the Russian one where it leaves a text out."""
    raw = _read(lang, folder)
    if russian is None:
        missing = sorted(set(_FIELDS) - set(raw))
        if missing:
            raise CatalogueError(f"{lang}.toml: missing {missing}")
        russian = raw
    values = {key: _coerce(lang, key, raw.get(key, russian[key]), russian[key]) for key in _FIELDS}
    return Texts(lang=lang, **values)


@functools.cache
def catalogues(folder: Path = LOCALES) -> dict[str, Texts]:
    """Every language's catalogue, by language code; raises CatalogueError on a bad one."""
    russian = _read(FALLBACK, folder)
    loaded = {FALLBACK: load(FALLBACK, folder=folder)}
    for lang in LANGUAGES:
        if lang != FALLBACK:
            loaded[lang] = load(lang, russian, folder)
    return loaded


def for_language(code: str | None) -> Texts:
    """The catalogue for a Telegram language_code ("en", "en-US", "kk"...); Russian otherwise."""
    base = (code or "").split("-")[0].split("_")[0].lower()
    found = catalogues()
    return found.get(base, found[FALLBACK])


def for_user(user: User | None) -> Texts:
    return for_language(user.language_code if user else None)


RU = for_language(FALLBACK)  # for texts with no user to ask (logs of the console, start-up)
