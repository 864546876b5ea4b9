"""The per-language catalogues: complete, consistent with the Russian one, valid Telegram HTML."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot import texts
from testkit.fake_telegram import utf16_len, visible_text

SAMPLE = {
    "question": "вопрос",
    "outlets": "Trend",
    "bot": "visit_qa_bot",
    "seconds": 3,
    "limit": 1000,
    "count": 5,
    "author": "Автор",
    "articles": 5,
    "passages": 60,
    "added": "a",
    "removed": "b",
    "changed": "c",
    "problem": "p",
    "name": "a.txt",
    "day": 1,
    "month": "мая",
    "year": 2025,
    "given": "Статья.txt",
    "size": 2000,
    "other": "b.txt",
    "fields": "источник — Trend",
    "problems": "– строка",
    "label": "Trend",
    "page": 1,
    "pages": 2,
    "number": 3,
    "text": "абзац",
    "trash": ".trash/a.txt",
    "old": 5,
    "new": 0,
    "days": 30,
    "total": 10,
    "high": 50,
    "low": 30,
    "none": 20,
    "ms": 120,
    "up": 1,
    "down": 2,
    "wrong_passage": 1,
    "no_answer": 0,
    "wrong_source": 1,
    "rows": 10,
    "date": "1 мая 2025 г.",
    "examples": "Что такое Средний коридор? | Когда?",
}
STRING_FIELDS = [f.name for f in dataclasses.fields(texts.Texts) if f.type == "str" and f.name != "lang"]


@pytest.mark.parametrize("lang", texts.LANGUAGES)
def test_every_text_is_valid_telegram_html(lang: str) -> None:
    t = texts.for_language(lang)
    for name in STRING_FIELDS:
        shown = visible_text(getattr(t, name).format(**SAMPLE))
        assert shown.strip(), name
        assert utf16_len(shown) <= 4096, name
    assert utf16_len(t.description) <= 512 and utf16_len(t.short_description) <= 120
    assert all(1 <= len(about) <= 256 for about in t.commands.values())
    assert all(len(q.encode()) <= 200 for q in t.examples)
    assert len(t.months) == 12


@pytest.mark.parametrize("lang", [lang for lang in texts.LANGUAGES if lang != texts.FALLBACK])
def test_other_languages_translate_everything_users_and_admins_see(lang: str) -> None:
    t, ru = texts.for_language(lang), texts.for_language("ru")
    untranslated = [
        name
        for name in [*STRING_FIELDS, "examples", "months", "commands", "admin_commands", "metadata_labels"]
        if getattr(t, name) == getattr(ru, name) and name != "context_button"
    ]
    assert untranslated == []


def test_language_codes_fall_back_to_russian() -> None:
    assert texts.for_language("en").lang == "en"
    assert texts.for_language("en-US").lang == "en"
    assert texts.for_language("KK").lang == "kk"
    assert texts.for_language("az").date(20, 10, 2025) == "20 oktyabr 2025"
    assert texts.for_language("de").lang == "ru"
    assert texts.for_language(None).lang == "ru"
    assert texts.for_language("").start == texts.RU.start


def test_greeting_names_the_outlets_not_russian_media() -> None:
    for lang in texts.LANGUAGES:
        assert "{outlets}" in texts.for_language(lang).start
    assert "российских" not in texts.RU.start


def copy_locales(tmp_path: Path) -> Path:
    folder = tmp_path / "locales"
    shutil.copytree(texts.LOCALES, folder)
    return folder


def test_a_translation_with_other_placeholders_is_refused(tmp_path: Path) -> None:
    folder = copy_locales(tmp_path)
    en = folder / "en.toml"
    en.write_text(en.read_text("utf-8").replace("in {seconds} s", "in {secs} s"), "utf-8")
    with pytest.raises(texts.CatalogueError, match=r"flood has placeholders \['secs'\]"):
        texts.catalogues(folder)


def test_unknown_and_missing_keys_are_refused(tmp_path: Path) -> None:
    folder = copy_locales(tmp_path)
    kk = folder / "kk.toml"
    kk.write_text('wellcome = "x"\n' + kk.read_text("utf-8"), "utf-8")
    with pytest.raises(texts.CatalogueError, match="unknown keys"):
        texts.catalogues(folder)
    folder = copy_locales(tmp_path / "2")
    ru = folder / "ru.toml"
    ru.write_text(ru.read_text("utf-8").replace('thanks_reply = "', 'thanks_replyy = "'), "utf-8")
    with pytest.raises(texts.CatalogueError):
        texts.catalogues(folder)


def test_a_missing_translation_falls_back_to_russian(tmp_path: Path) -> None:
    folder = copy_locales(tmp_path)
    az = folder / "az.toml"
    kept = [line for line in az.read_text("utf-8").splitlines() if not line.startswith("flood")]
    az.write_text("\n".join(kept), "utf-8")
    assert texts.catalogues(folder)["az"].flood == texts.RU.flood
