"""New articles below the bot: safe names, formats, caption metadata, durable saving, deleting
to the trash, and reindex guards. Real files, the fake hash embedder."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import inspect
import os
import time
import tomllib
from pathlib import Path

import pytest

from retrieval import corpus as corpus_module
from retrieval.corpus import MAX_ARTICLE_BYTES, SOURCES_FILE, Source, load_corpus, load_sources, set_source
from retrieval.errors import ArticleExistsError, ShrinkRefusedError, UploadRejectedError
from retrieval.ingest import (
    CaptionProblem,
    channel_post,
    html_paragraphs,
    parse_caption,
    safe_file_name,
    to_plain_text,
)
from retrieval.service import QAService

QUESTION = "Какие порты соединит подводный кабель по дну Каспия?"


def check(service: QAService, name: str, data: bytes, **kw):
    return asyncio.run(service.check_upload(name, data, **kw))


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("Новая статья.txt", "novaya-statya.txt"),
        ("../../x.txt", "x.txt"),
        ("..\\..\\x.txt", "x.txt"),
        (".hidden.txt", "hidden.txt"),
        ("a/b.txt", "b.txt"),
        ("Шымкент — Ақтау  2025.md", "shymkent-aqtau-2025.txt"),
        ("Şəki və Gəncə.html", "sheki-ve-gence.txt"),
        ("<script>.txt", "script.txt"),
        ("....txt", "article.txt"),
    ],
)
def test_unsafe_names_become_safe_ones(given: str, safe: str) -> None:
    assert safe_file_name(given) == safe


def test_html_keeps_paragraphs_and_drops_scripts_styles_and_navigation() -> None:
    markup = """<html><head><title>T</title><style>p{color:red}</style></head><body>
    <nav><a href="/">Главная</a> <a href="/news">Новости</a></nav>
    <header>Шапка сайта</header>
    <article><h1>Паромы Курыка</h1><p>Первый абзац &amp; <b>жирное</b> слово.</p>
    <script>alert("x")</script><p>Второй<br>абзац.</p><ul><li>пункт</li></ul></article>
    <aside>Реклама</aside><footer>© сайт</footer></body></html>"""
    text = html_paragraphs(markup)
    assert text.split("\n\n") == [
        "Паромы Курыка",
        "Первый абзац & жирное слово.",
        "Второй",
        "абзац.",
        "пункт",
    ]
    for dropped in ("alert", "color", "Главная", "Шапка", "Реклама", "©", "T"):
        assert dropped not in text.split("\n\n")[0] and dropped not in text


def test_markdown_becomes_plain_paragraphs() -> None:
    text = to_plain_text("md", "# Заголовок\n\nТекст с [ссылкой](http://x.kz) и **жирным**.\n\n- пункт")
    assert text.split("\n\n") == ["Заголовок", "Текст с ссылкой и жирным.", "пункт"]


def test_caption_keys_in_russian_and_english() -> None:
    caption = parse_caption(
        "Источник: Kazinform\nauthor: Иван Петров\nдата: 02.11.2025\nЗаголовок: Паромы\nurl: https://x.kz/a"
    )
    assert caption.source == Source(
        outlet="Kazinform",
        author="Иван Петров",
        date=dt.date(2025, 11, 2),
        title="Паромы",
        url="https://x.kz/a",
    )
    assert caption.problems == ()
    bad = parse_caption("дата: вчера\nцвет: синий\nссылка: x.kz\nпросто текст")
    assert bad.source == Source()
    assert bad.problems == (
        CaptionProblem("bad_date", "вчера"),
        CaptionProblem("bad_line", "цвет: синий"),
        CaptionProblem("bad_url", "x.kz"),
        CaptionProblem("bad_line", "просто текст"),
    )


def test_caption_keys_in_azerbaijani_and_kazakh() -> None:
    azerbaijani = parse_caption(
        "Mənbə: Report.az\nMüəllif: Aysel Məmmədova\ntarix: 2025-10-21\nBaşlıq: Dəhliz"
    )
    assert azerbaijani.source == Source(
        outlet="Report.az", author="Aysel Məmmədova", date=dt.date(2025, 10, 21), title="Dəhliz"
    )
    kazakh = parse_caption("Дереккөз: Kazinform\nКүні: 21.10.2025\nсілтеме: https://kaz.kz/a\nТақырып: Дәліз")
    assert kazakh.source == Source(
        outlet="Kazinform", date=dt.date(2025, 10, 21), url="https://kaz.kz/a", title="Дәліз"
    )
    assert azerbaijani.problems == kazakh.problems == ()


def test_channel_post_metadata() -> None:
    posted = dt.datetime(2025, 11, 3, 9, 30, tzinfo=dt.UTC)
    name, source = channel_post("Текст", "Вести Каспия", "vesti_caspian", -100123, 77, posted)
    assert name == "tg-vesti_caspian-77.txt"
    assert source == Source(
        outlet="Вести Каспия", url="https://t.me/vesti_caspian/77", date=dt.date(2025, 11, 3)
    )
    name, source = channel_post("Текст", "Закрытый", None, -100123, 5, posted)
    assert name == "tg-c100123-5.txt" and source.url is None


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("notes.docx", b"Text", "format"),
        ("bin.txt", b"\x00\x01\x02", "binary"),
        ("latin.txt", "Текст".encode("cp1251"), "not_utf8"),
        ("empty.txt", b"  \n\n ", "empty"),
        ("empty.html", b"<script>only()</script>", "empty"),
        ("big.txt", b"a" * (MAX_ARTICLE_BYTES + 1), "too_big"),
    ],
)
def test_bad_uploads_are_rejected_and_nothing_is_written(service, seeds, name, data, code) -> None:
    before = sorted(p.name for p in seeds.iterdir())
    service.max_upload_bytes = MAX_ARTICLE_BYTES
    with pytest.raises(UploadRejectedError) as rejected:
        check(service, name, data)
    assert rejected.value.code == code
    assert sorted(p.name for p in seeds.iterdir()) == before


def test_upload_with_the_text_of_an_existing_article_is_rejected(service, seeds) -> None:
    data = (seeds / "004_eb02a19616c79760.txt").read_bytes()
    with pytest.raises(UploadRejectedError) as rejected:
        check(service, "copy.txt", data)
    assert (
        rejected.value.code == "duplicate" and rejected.value.details["other"] == "004_eb02a19616c79760.txt"
    )


def test_existing_name_needs_overwrite(service, seeds) -> None:
    with pytest.raises(ArticleExistsError):
        check(service, "004_eb02a19616c79760.txt", "Новый текст статьи.".encode())
    upload = check(service, "004_eb02a19616c79760.txt", "Новый текст статьи.".encode(), overwrite=True)
    assert upload.overwrite and not upload.renamed


def test_upload_check_runs_off_the_event_loop(service) -> None:
    """Issue 12 item 10: a big upload's check must not stall the loop (questions keep flowing)."""
    sentence = "Паромная переправа через Каспий перевезла рекордный объём грузов за сутки. "
    data = "\n\n".join(sentence * 40 for _ in range(300)).encode()  # ~4.6 MB of sentences to split
    service.max_upload_bytes = len(data)

    async def scenario() -> tuple[int, float]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        started = time.monotonic()
        call = service.check_upload("big.txt", data)
        if not inspect.isawaitable(call):
            pytest.fail("check_upload ran on the event loop's thread")
        await call
        elapsed = time.monotonic() - started
        stop.set()
        await task
        return ticks, elapsed

    ticks, elapsed = asyncio.run(scenario())
    assert elapsed > 0.2  # the check is real work...
    assert ticks >= elapsed / 0.01 * 0.3  # ...and the loop kept ticking meanwhile (generous margin)


def test_saved_article_and_metadata_are_durable_and_cited(service, seeds) -> None:
    source = Source(outlet="Kazinform", date=dt.date(2025, 11, 2))
    text = "Мощность паромного терминала в Курыке составит четыре миллиона тонн грузов в год."
    upload = check(service, "Паромы Курыка.txt", text.encode(), source=source)
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(corpus_module.os, "fsync", spy)
        asyncio.run(service.save_article(upload))
    assert len(synced) >= 4  # sources.toml and the article, each file and its folder
    assert (seeds / "paromy-kuryka.txt").read_text("utf-8") == text
    assert load_sources(seeds / SOURCES_FILE)["paromy-kuryka.txt"] == source
    assert "# Per-article metadata" in (seeds / SOURCES_FILE).read_text("utf-8")  # comments kept
    asyncio.run(service.reindex())
    hit = asyncio.run(service.ask("Какой будет мощность паромного терминала в Курыке?", 3)).hits[0]
    assert hit.article.source.outlet == "Kazinform" and hit.article.date == dt.date(2025, 11, 2)


def test_a_failed_write_leaves_nothing_and_says_so(service, seeds) -> None:
    """Issue 12 item 4: saving raises (nothing reported saved), no article and no partial file."""
    upload = check(service, "disk.txt", "Статья о переполненном диске.".encode(), source=Source(outlet="X"))
    before = (seeds / SOURCES_FILE).read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(corpus_module.os, "fsync", full)
        with pytest.raises(OSError) as failed:
            asyncio.run(service.save_article(upload))
    assert failed.value.errno == errno.ENOSPC
    assert not (seeds / "disk.txt").exists()
    assert (seeds / SOURCES_FILE).read_bytes() == before
    assert not [p.name for p in seeds.iterdir() if p.name.endswith(".uploading")]


def test_deleted_article_goes_to_the_trash_with_its_metadata(service, seeds) -> None:
    name = "004_eb02a19616c79760.txt"
    original = (seeds / name).read_bytes()
    trashed = asyncio.run(service.delete_article(name))
    assert not (seeds / name).exists() and trashed.read_bytes() == original
    assert trashed.parent == seeds / ".trash"
    assert name not in load_sources(seeds / SOURCES_FILE)
    kept = tomllib.loads(trashed.with_name(trashed.name + ".toml").read_text("utf-8"))
    assert kept[name]["author"].startswith("Кенуль")
    assert name not in {p.name for p in seeds.glob("*.txt")}
    assert not any("sources.toml names" in w for w in load_corpus(seeds).warnings)


def test_set_source_edits_one_entry(seeds: Path) -> None:
    set_source(seeds, "новое.txt", Source(title='Кавычки " и \\ слэш', date=dt.date(2025, 1, 2)))
    sources = load_sources(seeds / SOURCES_FILE)
    assert sources["новое.txt"].title == 'Кавычки " и \\ слэш'
    assert sources["000_e24caed92fdcf6ad.txt"].outlet == "1news.az"
    set_source(seeds, "новое.txt", None)
    assert "новое.txt" not in load_sources(seeds / SOURCES_FILE)


def test_reindex_refuses_an_empty_corpus_without_confirmation(service, seeds, tmp_path) -> None:
    """Issue 12 item 5: an empty SEEDS_DIR is not swapped in unless confirmed."""
    before = len(service.articles())
    away = tmp_path / "away"
    away.mkdir()
    for path in seeds.glob("*.txt"):
        path.rename(away / path.name)
    with pytest.raises(ShrinkRefusedError) as refused:
        asyncio.run(service.reindex())
    assert (refused.value.old_articles, refused.value.new_articles) == (before, 0)
    assert len(service.articles()) == before  # the live index is untouched
    assert asyncio.run(service.ask(QUESTION, 3)).hits
    asyncio.run(service.reindex(allow_shrink=True))
    assert service.articles() == []


def test_reindex_refuses_losing_most_articles(service, seeds) -> None:
    for path in sorted(seeds.glob("*.txt"))[:3]:  # 3 of 5 gone
        path.unlink()
    with pytest.raises(ShrinkRefusedError):
        asyncio.run(service.reindex())
    (sorted(seeds.glob("*.txt"))[0]).unlink(missing_ok=True)
    asyncio.run(service.reindex(allow_shrink=True))
    assert len(service.articles()) == 1
