"""End to end, admins: articles from Telegram (uploads with caption metadata, safe names,
forwarded channel posts), /articles with view and delete, reindex guards, feedback, /stats,
/export, the scoped admin menu, privacy, and restarts in the middle of buttons. The real
`python -m bot` process against the fake Bot API, a real SQLite store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.persistence import FLUSH_SECONDS
from testkit.botrun import (
    ADMIN,
    SECOND_ADMIN,
    TOKEN,
    BotRun,
    copy_seeds,
    running_bot,
    start_bot,
    stop_bot,
    wait_until_polling,
)
from testkit.fake_telegram import FakeTelegram, Sent

USER = 580_123_457  # distinctive: found in a file only if it was written raw
BUILD = 120  # seconds a reindex may take on a busy machine


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotRun]:
    workdir = tmp_path_factory.mktemp("admin")
    with running_bot(workdir, copy_seeds(workdir)) as run:
        yield run


def button(message: Sent, text: str) -> dict:
    found = [b for b in message.buttons if b["text"] == text]
    assert found, f"no button {text!r} in {[b['text'] for b in message.buttons]}"
    return found[0]


def tap(bot: BotRun, user: int, message: Sent, text: str) -> int:
    mark = bot.fake.mark()
    bot.fake.tap(user, message, button(message, text)["callback_data"])
    return mark


def no_english(text: str, *allowed: str) -> None:
    """An admin message in Russian: no English words besides file names and given values."""
    for word in allowed:
        text = text.replace(word, "")
    assert not re.search(r"\b[A-Za-z]{3,}\b", re.sub(r"\S+\.(txt|md|html)\b", "", text)), text


def test_admin_menu_is_scoped_to_admins(bot: BotRun) -> None:
    default = {c["command"] for c in bot.fake.commands}
    assert default == {"start", "help", "sources"}
    for lang_commands in bot.fake.commands_by_language.values():
        assert not {"reindex", "articles", "stats", "export"} & {c["command"] for c in lang_commands}
    for admin in (ADMIN, SECOND_ADMIN):
        scoped = {c["command"] for c in bot.fake.commands_by_chat[admin]}
        assert scoped == default | {"reindex", "articles", "stats", "export"}
    assert USER not in bot.fake.commands_by_chat


def test_help_lists_the_admin_commands_to_admins_only(bot: BotRun) -> None:
    user_help = bot.ask(USER, "/help")[0].text
    admin_help = bot.ask(ADMIN, "/help")[0].text
    assert "/sources" in user_help and "/reindex" not in user_help
    assert admin_help.startswith(user_help)
    for command in ("/reindex", "/articles", "/stats", "/export"):
        assert command in admin_help


def test_non_admins_are_refused(bot: BotRun) -> None:
    before = sorted(p.name for p in bot.seeds.iterdir())
    for command in ("/reindex", "/articles", "/stats", "/export"):
        assert "только администраторам" in bot.ask(10, command)[0].text
    mark = bot.fake.mark()
    bot.fake.send_document(10, "intruder.txt", "Текст постороннего.".encode())
    assert "только администраторам" in bot.fake.wait_for(10, since=mark)[0].text
    mark = bot.fake.mark()
    bot.fake.forward_post(10, "Чужой канал", "foreign", 5, int(time.time()), text="Пост о погоде в Астане.")
    bot.fake.wait_for(10, since=mark)  # answered as a question, not saved
    assert sorted(p.name for p in bot.seeds.iterdir()) == before


def test_upload_with_caption_metadata_and_a_cyrillic_name(bot: BotRun) -> None:
    text = (
        "Казахстан и Азербайджан обсудили строительство паромного терминала в Курыке.\n\n"
        "Мощность терминала составит четыре миллиона тонн грузов в год."
    )
    caption = (
        "Источник: Kazinform\nдата: 02.11.2025\nавтор: Айгуль Сапарова\nссылка: https://example.kz/kuryk"
    )
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "Паромы Курыка.txt", text.encode(), caption=caption)
    done = bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    saved = bot.fake.wait_for_text(ADMIN, "сохранена", since=mark)
    assert "paromy-kuryka.txt" in saved.text and "«Паромы Курыка.txt»" in saved.text
    assert "источник — Kazinform" in saved.text and "2 ноября 2025 г." in saved.text
    assert bot.fake.messages(ADMIN, mark).index(saved) < bot.fake.messages(ADMIN, mark).index(done)
    assert (bot.seeds / "paromy-kuryka.txt").read_text("utf-8") == text
    no_english(saved.text, "Kazinform", "https://example.kz/kuryk")
    answer = bot.ask(11, "Какой будет мощность паромного терминала в Курыке?")[0]
    assert "четыре миллиона тонн" in answer.text
    assert "Kazinform" in answer.text and "2 ноября 2025 г." in answer.text


def test_caption_problems_are_named_and_the_article_still_saved(bot: BotRun) -> None:
    mark = bot.fake.mark()
    text = "Первый поезд по новой линии Бейнеу — Жезказган прибыл в Актау."
    bot.fake.send_document(ADMIN, "train.txt", text.encode(), caption="дата: вчера\nцвет: синий")
    problems = bot.fake.wait_for_text(ADMIN, "В подписи", since=mark)
    assert "«вчера»" in problems.text and "«цвет: синий»" in problems.text
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    assert (bot.seeds / "train.txt").exists()


def test_admin_texts_follow_the_admins_language(bot: BotRun) -> None:
    mark = bot.fake.mark()
    text = "Паром «Бейнеу» совершил первый рейс из Курыка в Алят."
    bot.fake.send_document(
        ADMIN, "ferry.txt", text.encode(), caption="tarix: dünən\nMənbə: Report.az", lang="az"
    )
    problems = bot.fake.wait_for_text(ADMIN, "nəzərə alınmadı", since=mark)
    assert "«dünən»" in problems.text and "Report.az" not in problems.text
    bot.fake.wait_for_text(ADMIN, "Report.az", since=mark)  # the caption's outlet, in its details line
    bot.fake.wait_for_text(ADMIN, "yeniləndi", since=mark, timeout=BUILD)  # reindex_done
    mark = bot.fake.mark()
    bot.fake.send_text(ADMIN, "/stats", lang="en")
    assert bot.fake.wait_for_text(ADMIN, " days", since=mark)  # stats_header or stats_empty, in English


def test_html_upload_keeps_only_the_article(bot: BotRun) -> None:
    page = """<html><head><style>.x{}</style><script>track()</script></head><body>
    <nav>Главная | Новости | Контакты</nav><article><h1>Элеватор</h1>
    <p>В порту Курык построят элеватор на сто тысяч тонн зерна.</p></article>
    <footer>Все права защищены</footer></body></html>"""
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "elevator.html", page.encode())
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    saved = (bot.seeds / "elevator.txt").read_text("utf-8")
    assert saved == "Элеватор\n\nВ порту Курык построят элеватор на сто тысяч тонн зерна."
    assert not any(w in saved for w in ("track", "Главная", "права", ".x{}"))


def test_forwarded_channel_post_becomes_a_cited_article(bot: BotRun) -> None:
    posted = dt.datetime(2025, 11, 3, 8, 0, tzinfo=dt.UTC)
    text = "Азербайджан и Казахстан запустят совместную авиалинию Баку — Туркестан с декабря."
    mark = bot.fake.mark()
    bot.fake.forward_post(ADMIN, "Вести Каспия", "vesti_caspian", 77, int(posted.timestamp()), text=text)
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    assert (bot.seeds / "tg-vesti_caspian-77.txt").read_text("utf-8") == text
    assert 'url = "https://t.me/vesti_caspian/77"' in (bot.seeds / "sources.toml").read_text("utf-8")
    answer = bot.ask(12, "Когда запустят авиалинию Баку — Туркестан?")[0]
    assert '<a href="https://t.me/vesti_caspian/77">Вести Каспия</a>, 3 ноября 2025 г.' in answer.text


def test_forwarded_album_uses_its_caption(bot: BotRun) -> None:
    posted = int(dt.datetime(2025, 11, 4, tzinfo=dt.UTC).timestamp())
    mark = bot.fake.mark()
    bot.fake.forward_post(ADMIN, "Фото Каспия", None, 8, posted, caption=None, media_group_id="g1")
    caption = "На верфи в Баку спустили на воду танкер для казахстанской нефти."
    bot.fake.forward_post(ADMIN, "Фото Каспия", None, 9, posted, caption=caption, media_group_id="g1")
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    assert not any("нет текста" in m.text for m in bot.fake.messages(ADMIN, mark))  # the bare part: silent
    assert (bot.seeds / "tg-c1001234567890-9.txt").read_text("utf-8") == caption
    assert (
        "https://t.me" not in (bot.seeds / "sources.toml").read_text("utf-8").split("tg-c1001234567890-9")[1]
    )


def test_bad_uploads_are_explained_in_russian(bot: BotRun) -> None:
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "cp1251.txt", "Текст".encode("cp1251"))
    reply = bot.fake.wait_for(ADMIN, since=mark)[0]
    assert "cp1251.txt" in reply.text and "UTF-8" in reply.text
    no_english(reply.text, "UTF-8")
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "report.docx", b"PK\x03\x04")
    reply = bot.fake.wait_for(ADMIN, since=mark)[0]
    assert ".txt, .md и .html" in reply.text
    assert not (bot.seeds / "cp1251.txt").exists() and not (bot.seeds / "report.txt").exists()


def test_failed_reindex_names_the_file_and_keeps_the_old_index_serving(bot: BotRun) -> None:
    broken = bot.seeds / "903_broken.txt"
    broken.write_bytes("Сломанная кодировка".encode("cp1251"))
    try:
        mark = bot.fake.mark()
        bot.fake.send_text(ADMIN, "/reindex")
        failed = bot.fake.wait_for_text(ADMIN, "Не удалось", since=mark, timeout=BUILD)
        assert "903_broken.txt" in failed.text and "UTF-8" in failed.text
        no_english(failed.text, "UTF-8")
        answer = bot.ask(13, "Какие порты соединит подводный кабель по дну Каспия?")[0]
        assert "Актау и Алят" in answer.text
    finally:
        broken.unlink()


def test_reindex_warnings_are_in_russian(bot: BotRun) -> None:
    empty = bot.seeds / "empty-article.txt"
    empty.write_text("  \n\n", "utf-8")
    try:
        mark = bot.fake.mark()
        bot.fake.send_text(ADMIN, "/reindex")
        done = bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
        assert "в файле empty-article.txt нет текста, он пропущен" in done.text
        no_english(done.text.split("Предупреждения:")[1])
    finally:
        empty.unlink()


def test_replacing_needs_confirmation(bot: BotRun) -> None:
    name = "replace-me.txt"
    before = "Старый текст о поезде в Актау."
    (bot.seeds / name).write_text(before, "utf-8")
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, name, "Новый текст о поезде в Актау.".encode())
    question = bot.fake.wait_for_text(ADMIN, "уже есть", since=mark)
    assert (bot.seeds / name).read_text("utf-8") == before
    mark = tap(bot, SECOND_ADMIN, question, "Заменить")  # another admin's tap: not theirs to confirm
    bot.fake.wait_for_text(ADMIN, "не действует", since=mark)
    mark = tap(bot, ADMIN, question, "Отмена")
    bot.fake.wait_for_text(ADMIN, "Отменено", since=mark)
    assert (bot.seeds / name).read_text("utf-8") == before


def test_a_failed_write_is_reported_not_saved(bot: BotRun) -> None:
    """Issue 12 item 4: "сохранена" only once the file is on disk; a failed write says so."""
    blocker = bot.seeds / ".blocked.txt.uploading"
    blocker.mkdir()  # the staging file cannot be written (as on a full disk)
    try:
        mark = bot.fake.mark()
        bot.fake.send_document(ADMIN, "blocked.txt", "Статья, которую не записать.".encode())
        failed = bot.fake.wait_for_text(ADMIN, "НЕ сохранена", since=mark, timeout=BUILD)
        assert "blocked.txt" in failed.text
        no_english(failed.text)
        time.sleep(1)
        said = [m.text for m in bot.fake.messages(ADMIN, mark)]
        assert not any("сохранена." in m or "Индекс обновлён" in m for m in said), said
        assert not (bot.seeds / "blocked.txt").exists()
    finally:
        blocker.rmdir()


def test_articles_list_view_and_delete(bot: BotRun) -> None:
    (bot.seeds / "grain.txt").write_text(
        " date 2025-12-30 Зерновой хаб\n\n"
        "В порту Алят построят зерновой терминал мощностью один миллион тонн.",
        "utf-8",
    )
    mark = bot.fake.mark()
    bot.fake.send_text(ADMIN, "/reindex")
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    listing = bot.ask(ADMIN, "/articles")[0]
    assert "Статьи:" in listing.text and "новые сверху" in listing.text
    dates = re.findall(r"(\d{1,2}) (октября|ноября|декабря) 2025 г\.", listing.text)
    months = {"октября": 10, "ноября": 11, "декабря": 12}
    order = [(months[m], int(d)) for d, m in dates]
    assert order == sorted(order, reverse=True) and order[0] == (12, 30)  # newest first
    mark = tap(bot, ADMIN, listing, "Дальше →")
    deadline = time.monotonic() + 30
    while not [s for s in bot.fake.sent[mark:] if s.method == "editMessageText"]:
        assert time.monotonic() < deadline, "the next page never came"
        time.sleep(0.05)
    page2 = next(s for s in bot.fake.sent[mark:] if s.method == "editMessageText")
    assert "страница 2" in page2.text and "6." in page2.text

    number = next(
        n
        for n, name in re.findall(r"(\d+)\. .*?\nфайл: <code>([^<]+)</code>", listing.text)
        if name == "grain.txt"
    )
    mark = tap(bot, ADMIN, listing, f"Начало {number}")
    head = bot.fake.wait_for_text(ADMIN, "первый абзац", since=mark)
    assert "Зерновой хаб" in head.text and "<blockquote>" in head.text
    mark = tap(bot, ADMIN, listing, f"Удалить {number}")
    confirm = bot.fake.wait_for_text(ADMIN, "Удалить статью grain.txt", since=mark)
    assert (bot.seeds / "grain.txt").exists()
    mark = tap(bot, ADMIN, confirm, "Удалить")
    bot.fake.wait_for_text(ADMIN, "перемещена в корзину", since=mark)
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
    assert not (bot.seeds / "grain.txt").exists()
    assert (bot.seeds / ".trash" / "grain.txt").exists()
    answer = bot.ask(13, "Какой мощности зерновой терминал построят в порту Алят?")[0]
    assert "зерновой терминал мощностью" not in answer.text
    mark = tap(bot, ADMIN, confirm, "Удалить")  # the same confirmation twice: nothing more
    bot.fake.wait_for_text(ADMIN, "не действует", since=mark)


def test_empty_corpus_reindex_needs_confirmation(bot: BotRun, tmp_path: Path) -> None:
    """Issue 12 item 5: an empty SEEDS_DIR is not swapped in without a yes."""
    away = tmp_path / "away"
    away.mkdir()
    moved = list(bot.seeds.glob("*.txt"))
    for path in moved:
        path.rename(away / path.name)
    try:
        mark = bot.fake.mark()
        bot.fake.send_text(ADMIN, "/reindex")
        question = bot.fake.wait_for_text(ADMIN, "было бы статей: 0", since=mark, timeout=BUILD)
        assert not any("Индекс обновлён" in m.text for m in bot.fake.messages(ADMIN, mark))
        assert "Актау и Алят" in bot.ask(14, "Какие порты соединит подводный кабель по дну Каспия?")[0].text
        mark = tap(bot, ADMIN, question, "Отмена")
        bot.fake.wait_for_text(ADMIN, "Отменено", since=mark)
    finally:
        for path in moved:
            (away / path.name).rename(path)


def test_feedback_is_recorded_and_visible_in_stats(bot: BotRun) -> None:
    answer = bot.ask(USER, "Что такое Средний коридор?")[-1]
    tap(bot, USER, answer, "👍")
    mark = tap(bot, USER, answer, "👎")  # changed, not added
    why = bot.fake.wait_for_text(USER, "Что было не так?", since=mark)
    tap(bot, USER, why, "Неверный источник")
    answered = bot.fake.tap(USER, answer, button(answer, "👎")["callback_data"])  # the same vote again
    assert bot.fake.wait_for_callback_answer(answered)["text"] == "Спасибо за оценку!"
    time.sleep(0.5)
    assert sum("Что было не так?" in m.text for m in bot.fake.messages(USER, mark)) == 1  # asked once
    for user, text in (
        (USER, "Сколько стоит биткоин?"),
        (21, "сколько стоит биткоин"),
        (22, "Сколько  стоит биткоин?!"),
    ):
        bot.ask(user, text)
    deadline = time.monotonic() + 30
    while True:
        stats = bot.ask(ADMIN, "/stats")[0]
        logged = "неверный источник — 1" in stats.text and "3 × сколько стоит биткоин" in stats.text
        if logged or time.monotonic() > deadline:  # rows are written just after each reply
            break
        time.sleep(0.5)
    assert "👍 0, 👎 1" in stats.text
    assert "неверный источник — 1" in stats.text
    assert "3 × сколько стоит биткоин" in stats.text
    assert "Медиана времени ответа" in stats.text
    no_english(stats.text)


def test_export_sends_the_question_log_as_csv(bot: BotRun) -> None:
    bot.ask(USER, "Каким был товарооборот между странами в 2025 году?")
    mark = bot.fake.mark()
    bot.fake.send_text(ADMIN, "/export")
    deadline = time.monotonic() + 30
    while not bot.fake.documents(ADMIN, mark):
        assert time.monotonic() < deadline, "no CSV came"
        time.sleep(0.05)
    document = bot.fake.documents(ADMIN, mark)[0].params["document"]
    assert document["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(document["data"].decode("utf-8-sig"))))
    questions = [r["question"] for r in rows]
    assert "Каким был товарооборот между странами в 2025 году?" in questions
    assert {"time", "chat_type", "language", "user", "confidence", "latency_ms", "votes_down"} <= set(rows[0])
    assert all(r["user"] and r["user"] != str(USER) for r in rows)


def test_no_raw_user_id_in_the_store_or_the_log(bot: BotRun) -> None:
    bot.ask(USER, "Где Токаев встретил Алиева?")
    data = bot.log.parent / "data"
    files = [p for p in data.iterdir() if p.is_file()]
    assert any(p.name.endswith(".sqlite3") for p in files)
    for path in [*files, bot.log]:
        content = path.read_bytes()
        assert str(USER).encode() not in content, path.name
        assert USER.to_bytes(4, "big") not in content, path.name
    assert sqlite3.connect(data / "bot.sqlite3").execute("SELECT COUNT(*) FROM questions").fetchone()[0] > 0


# -- restarts ------------------------------------------------------------------------------
def test_buttons_survive_a_kill_and_restart(tmp_path: Path) -> None:
    """A pending confirmation (killed right after asking) and a "Ещё" button still work after
    the bot was SIGKILLed and started again."""
    seeds = copy_seeds(tmp_path)
    fake = FakeTelegram(TOKEN).start()
    log = tmp_path / "bot.log"
    process = start_bot(fake, seeds, tmp_path / "index", log)
    try:
        wait_until_polling(fake, process)
        run = BotRun(fake, seeds, log, process)
        name = "004_eb02a19616c79760.txt"
        mark = fake.mark()
        fake.send_document(ADMIN, name, "Заменённый текст статьи о визите.".encode())
        question = fake.wait_for_text(ADMIN, "уже есть", since=mark)
        first = run.ask(USER, "Что такое Средний коридор?")[-1]
        more = button(first, "Ещё")
        time.sleep(FLUSH_SECONDS + 1)  # answers' buttons reach the store within one flush interval
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        fake.calls.clear()
        process = start_bot(fake, seeds, tmp_path / "index", log)
        wait_until_polling(fake, process)

        mark = fake.mark()
        fake.tap(USER, first, more["callback_data"])
        page = fake.wait_for(USER, since=mark)[0]
        assert "Ещё по вопросу «Что такое Средний коридор?»" in page.text and "<blockquote" in page.text
        mark = tap(run, ADMIN, question, "Заменить")
        fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=BUILD)
        assert (seeds / name).read_text("utf-8") == "Заменённый текст статьи о визите."
    finally:
        stop_bot(process)
        fake.close()
