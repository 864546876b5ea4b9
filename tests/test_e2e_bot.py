"""End to end: the real `python -m bot` process against the local fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.botrun import ADMIN, BotRun, copy_seeds, running_bot
from testkit.fake_telegram import BOT_USERNAME, FakeTelegram

LONG_ARTICLE = "900_long_quotes.txt"


def long_article() -> str:
    """Long paragraphs full of characters that HTML escaping expands."""
    sentence = (
        "Ледокол «Полярный <Ветер>» & экипаж прошли Северный морской путь за 12 суток & вернулись в порт. "
    )
    return "\n\n".join(sentence * 14 for _ in range(4))


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotRun]:
    workdir = tmp_path_factory.mktemp("e2e")
    seeds = copy_seeds(workdir)
    (seeds / LONG_ARTICLE).write_text(long_article(), "utf-8")
    with running_bot(workdir, seeds) as run:
        yield run


def assert_nothing_rejected(fake: FakeTelegram) -> None:
    assert not fake.rejected, fake.rejected


def test_start_registers_commands_and_example_buttons(bot: BotRun) -> None:
    assert {c["command"] for c in bot.fake.commands} >= {"start", "help", "sources", "reindex"}
    reply = bot.ask(1, "/start")[0]
    assert "Алиева" in reply.text
    buttons = reply.buttons
    assert 3 <= len(buttons) <= 4
    mark = bot.fake.mark()
    bot.fake.tap(1, reply, buttons[1]["callback_data"])
    answer = bot.fake.wait_for(1, since=mark)[0]
    assert "<blockquote>" in answer.text and "Источник:" in answer.text
    assert "Актау и Алят" in answer.text
    assert_nothing_rejected(bot.fake)


def test_interface_follows_the_users_language(bot: BotRun) -> None:
    assert set(bot.fake.commands_by_language) == {None, "en", "az", "kk"}
    assert bot.fake.commands_by_language["en"][0]["description"] == "Start and example questions"
    assert "государственном визите" in bot.fake.descriptions[None]
    assert "state visit" in bot.fake.descriptions["en"]
    assert set(bot.fake.short_descriptions) == {None, "en", "az", "kk"}
    mark = bot.fake.mark()
    bot.fake.send_text(14, "/start", lang="en-GB")
    greeting = bot.fake.wait_for(14, since=mark)[0]
    assert greeting.text.startswith("Hello!")
    assert "1news.az, Minval Politika, Trend" in greeting.text
    assert greeting.buttons[0]["text"] == "How many agreements were signed during the visit?"
    mark = bot.fake.mark()
    bot.fake.send_text(15, "/help", lang="kk")
    assert "Қалай сұрауға болады" in bot.fake.wait_for(15, since=mark)[0].text
    mark = bot.fake.mark()
    bot.fake.send_text(16, "/start", lang="de")
    assert bot.fake.wait_for(16, since=mark)[0].text.startswith("Здравствуйте!")
    assert_nothing_rejected(bot.fake)


def test_question_is_answered_with_quote_source_and_date(bot: BotRun) -> None:
    answer = bot.ask(2, "Когда планируется завершить проект волоконно-оптической линии?")[0]
    assert "<blockquote>" in answer.text
    assert "<b>" in answer.text
    assert "конец 2026 года" in answer.text
    assert "Источник: Ибрагим Алиев, 20 октября 2025 г." in answer.text
    assert [b["text"] for b in answer.buttons] == ["Ещё"]
    assert_nothing_rejected(bot.fake)


def test_undated_article_says_so(bot: BotRun) -> None:
    answer = bot.ask(3, "Во что превратилась формула 5+1 по словам Гаджиева?")[0]
    assert "Minval Politika, дата не указана" in answer.text


def test_html_in_a_question_is_escaped(bot: BotRun) -> None:
    answer = bot.ask(4, "<b>Где</b> Токаев встретил Алиева? <script>alert(1)</script> & ещё")[0]
    assert "<script>" not in answer.text
    off_topic = bot.ask(4, "<i>рецепт</i> борща & <b>погода</b>?")[0]
    assert "&lt;i&gt;рецепт&lt;/i&gt; борща &amp; &lt;b&gt;погода&lt;/b&gt;" in off_topic.text
    assert_nothing_rejected(bot.fake)


def test_off_topic_question_gets_an_honest_no(bot: BotRun) -> None:
    answer = bot.ask(5, "Сколько стоит биткоин?")[0]
    assert "В статьях нет ответа" in answer.text
    assert "<blockquote>" not in answer.text
    assert len(answer.buttons) >= 3  # example questions instead of unrelated quotes


def test_sticker_gets_a_hint(bot: BotRun) -> None:
    mark = bot.fake.mark()
    bot.fake.send_sticker(6)
    assert "/help" in bot.fake.wait_for(6, since=mark)[0].text


def test_more_button_shows_the_next_passages(bot: BotRun) -> None:
    first = bot.ask(7, "Что такое Средний коридор?")[-1]
    mark = bot.fake.mark()
    bot.fake.tap(7, first, first.buttons[0]["callback_data"])
    more = bot.fake.wait_for(7, since=mark)[0]
    assert "Ещё по вопросу «Что такое Средний коридор?»" in more.text
    assert more.text.count("<blockquote>") >= 1
    assert "4. <blockquote>" in more.text


def test_long_answer_stays_within_telegram_limits(bot: BotRun) -> None:
    replies = bot.ask(8, "Сколько суток ледокол Полярный Ветер шёл Северным морским путём?")
    assert "Полярный &lt;Ветер&gt;" in replies[0].text
    assert all(len(r.text) <= 4096 for r in replies)
    assert "…" in replies[0].text  # long passages are trimmed around the highlight
    assert_nothing_rejected(bot.fake)


def test_groups_answer_only_mentions_and_replies(bot: BotRun) -> None:
    group = -500
    mark = bot.fake.mark()
    bot.fake.send_text(9, "Что такое Средний коридор?", chat_id=group, chat_type="group")
    bot.fake.send_text(9, f"@{BOT_USERNAME} Что такое Средний коридор?", chat_id=group, chat_type="group")
    replies = bot.fake.wait_for(group, since=mark)
    assert len(bot.fake.messages(group, mark)) == len(replies)
    assert "<blockquote>" in replies[0].text


def test_non_admin_is_refused(bot: BotRun) -> None:
    before = sorted(p.name for p in bot.seeds.iterdir())
    assert "только администраторам" in bot.ask(10, "/reindex")[0].text
    mark = bot.fake.mark()
    bot.fake.send_document(10, "intruder.txt", "Текст постороннего.".encode())
    assert "только администраторам" in bot.fake.wait_for(10, since=mark)[0].text
    assert sorted(p.name for p in bot.seeds.iterdir()) == before


def test_admin_adds_article_by_file_and_reindex(bot: BotRun) -> None:
    (bot.seeds / "901_bridge.txt").write_text(
        " date 2025-11-02 Казахстан и Азербайджан обсудили строительство паромного терминала в Курыке.\n\n"
        "Мощность терминала составит четыре миллиона тонн грузов в год.",
        "utf-8",
    )
    mark = bot.fake.mark()
    bot.fake.send_text(ADMIN, "/reindex")
    done = bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=120)
    assert "901_bridge" in done.text
    answer = bot.ask(11, "Какой будет мощность паромного терминала в Курыке?")[0]
    assert "четыре миллиона тонн" in answer.text
    assert "2 ноября 2025 г." in answer.text


def test_admin_uploads_a_document_and_confirms_overwrite(bot: BotRun) -> None:
    text = "Азербайджан и Казахстан открыли совместный центр подготовки пилотов в Шымкенте."
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "902_pilots.txt", text.encode())
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=120)
    assert (bot.seeds / "902_pilots.txt").read_text("utf-8") == text
    assert "Шымкенте" in bot.ask(12, "Где открыли центр подготовки пилотов?")[0].text

    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "902_pilots.txt", (text + " Первый набор — сорок курсантов.").encode())
    question = bot.fake.wait_for_text(ADMIN, "уже есть", since=mark)
    assert (bot.seeds / "902_pilots.txt").read_text("utf-8") == text  # nothing replaced yet
    replace = next(b for b in question.buttons if b["text"] == "Заменить")
    bot.fake.tap(ADMIN, question, replace["callback_data"])
    bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=120)
    assert "сорок курсантов" in (bot.seeds / "902_pilots.txt").read_text("utf-8")


def test_bad_uploads_are_rejected_with_a_reason(bot: BotRun) -> None:
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "../../escape.txt", b"Text")
    assert "unsafe file name" in bot.fake.wait_for(ADMIN, since=mark)[0].text
    mark = bot.fake.mark()
    bot.fake.send_document(ADMIN, "cp1251.txt", "Текст".encode("cp1251"))
    assert "not UTF-8" in bot.fake.wait_for(ADMIN, since=mark)[0].text
    assert not (bot.seeds / "cp1251.txt").exists()
    assert not (bot.seeds.parent / "escape.txt").exists()


def test_failed_reindex_keeps_the_old_index_serving(bot: BotRun) -> None:
    broken = bot.seeds / "903_broken.txt"
    broken.write_bytes("Сломанная кодировка".encode("cp1251"))
    try:
        mark = bot.fake.mark()
        bot.fake.send_text(ADMIN, "/reindex")
        failed = bot.fake.wait_for_text(ADMIN, "Не удалось", since=mark, timeout=120)
        assert "903_broken.txt" in failed.text and "UTF-8" in failed.text
        answer = bot.ask(13, "Какие порты соединит подводный кабель по дну Каспия?")[0]
        assert "Актау и Алят" in answer.text
    finally:
        broken.unlink()
