"""End to end: the real `python -m bot` process against the local fake Bot API."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator

import pytest

from bot import deeplink, texts
from testkit.botrun import BotRun, copy_seeds, running_bot
from testkit.fake_telegram import BOT_USERNAME, FakeTelegram, Sent, utf16_len, visible_text

LONG_ARTICLE = "900_long_quotes.txt"
CABLE = "Какие порты соединит подводный кабель по дну Каспия?"
RU = texts.RU
INLINE_BUDGET = 5  # INLINE_QUERIES_PER_MINUTE of the flood test


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


def button(message: Sent, text: str) -> dict:
    found = [b for b in message.buttons if b["text"] == text]
    assert found, f"no button {text!r} in {[b['text'] for b in message.buttons]}"
    return found[0]


def answer_to(bot: BotRun, user: int, text: str, **kw) -> list[Sent]:
    """Send a message and return the bot's answer (all its messages, the reply first)."""
    mark = bot.fake.mark()
    sent = bot.fake.send_text(user, text, **kw)
    chat = kw.get("chat_id") or user
    first = bot.fake.wait_for_reply(sent["message_id"], timeout=60)
    assert first, f"no reply to {text!r}: {[m.text[:80] for m in bot.fake.messages(chat, mark)]}"
    time.sleep(0.3)  # the rest of a multi-message answer
    return bot.fake.messages(chat, mark)


def first_line(message: Sent) -> str:
    return message.text.split("\n")[0]


def test_start_registers_commands_and_example_buttons(bot: BotRun) -> None:
    assert {c["command"] for c in bot.fake.commands} == {"start", "help", "sources"}  # admins: test_e2e_admin
    greeting = bot.ask(1, "/start")[0]
    assert "Алиева" in greeting.text and "1news.az, Minval Politika, Trend" in greeting.text
    assert "российских" not in greeting.text
    assert [b["text"] for b in greeting.buttons] == list(RU.examples)
    mark = bot.fake.mark()
    bot.fake.tap(1, greeting, button(greeting, RU.examples[1])["callback_data"])
    answer = bot.fake.wait_for(1, since=mark)[0]
    # an answer to a tap names its question and is not a reply to the greeting
    assert answer.text.startswith(f"Вопрос: «{RU.examples[1]}»")
    assert "reply_parameters" not in answer.params
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
    assert greeting.buttons[0]["text"] == "How many agreements were signed during the visit?"
    mark = bot.fake.mark()
    bot.fake.send_text(15, "/help", lang="kk")
    assert "Қалай сұрауға болады" in bot.fake.wait_for(15, since=mark)[0].text
    mark = bot.fake.mark()
    bot.fake.send_text(16, "/start", lang="de")
    assert bot.fake.wait_for(16, since=mark)[0].text.startswith("Здравствуйте!")
    # interface in English, the quote verbatim Russian
    answer = answer_to(bot, 17, CABLE, lang="en")[0]
    assert "Source: " in answer.text or "Author: " in answer.text
    assert "Актау и Алят" in answer.text
    assert [b["text"] for b in answer.buttons][:1] in (["More"], ["Context"])
    assert_nothing_rejected(bot.fake)


def test_answer_first_then_the_collapsed_paragraph(bot: BotRun) -> None:
    answer = answer_to(bot, 2, "Когда планируется завершить проект волоконно-оптической линии?")[0]
    lines = answer.text.split("\n")
    assert lines[0].startswith("<b>") and "конец 2026 года" in lines[0]
    assert "Автор: Ибрагим Алиев, 20 октября 2025 г." in answer.text  # the author, labelled as author
    assert "Источник: Ибрагим Алиев" not in answer.text
    assert "<blockquote expandable>" in answer.text
    assert {"Контекст", "Поделиться"} <= {b["text"] for b in answer.buttons}
    assert_nothing_rejected(bot.fake)


def test_quote_names_its_speaker_and_the_undated_article_says_so(bot: BotRun) -> None:
    answer = answer_to(bot, 3, "Во что превратилась формула 5+1 по словам Гаджиева?")[0]
    assert "Minval Politika, дата не указана" in answer.text
    head = answer.text.split("<blockquote")[0]  # what shows before anything is expanded
    assert "Ишмухамедов" in head  # the one who said it, not Гаджиев whose post he discusses
    quote = answer_to(bot, 3, "Во сколько раз выросли перевозки по Транскаспийскому маршруту?")[0]
    assert "в 6 раз" in quote.text
    assert "\n— Косбаева\n" in quote.text.split("<blockquote")[0]  # "- сказала эксперт", named before


def test_html_in_a_question_is_escaped(bot: BotRun) -> None:
    answer = answer_to(bot, 4, "<b>Где</b> Токаев встретил Алиева? <script>alert(1)</script> & ещё")[0]
    assert "<script>" not in answer.text
    off_topic = answer_to(bot, 4, "<i>рецепт</i> борща & <b>пирогов</b>?")[0]
    assert "&lt;i&gt;рецепт&lt;/i&gt; борща &amp; &lt;b&gt;пирогов&lt;/b&gt;" in off_topic.text
    assert_nothing_rejected(bot.fake)


def test_off_topic_question_gets_an_honest_no_with_related_suggestions(bot: BotRun) -> None:
    asked = "Сколько стоит биткоин?"
    answer = answer_to(bot, 5, asked)[0]
    assert answer.text.startswith(f"В статьях нет ответа на вопрос «{asked}»")
    assert "<blockquote" not in answer.text
    suggestions = [b["text"] for b in answer.buttons]
    assert suggestions and asked not in suggestions
    mark = bot.fake.mark()
    bot.fake.tap(5, answer, answer.buttons[0]["callback_data"])
    follow = bot.fake.wait_for(5, since=mark)[0]
    assert follow.text.startswith(f"Вопрос: «{suggestions[0]}»")


def test_small_talk_gets_a_friendly_reply(bot: BotRun) -> None:
    hello = answer_to(bot, 18, "Привет!")[0]
    assert hello.text.startswith("Здравствуйте!") and "нет ответа" not in hello.text
    assert hello.buttons  # examples to start from
    assert answer_to(bot, 18, "спасибо")[0].text == RU.thanks_reply
    assert answer_to(bot, 18, "что ты умеешь?")[0].text.startswith("Я знаю то, что написано в статьях")
    assert answer_to(bot, 19, "Hi", lang="en")[0].text.startswith("Hello!")


def test_unknown_commands_get_a_hint(bot: BotRun) -> None:
    assert answer_to(bot, 20, "/weather")[0].text == RU.unknown_command
    group = -520
    mark = bot.fake.mark()
    other = bot.fake.send_text(20, "/weather@some_other_bot", chat_id=group, chat_type="group")
    mine = bot.fake.send_text(20, f"/weather@{BOT_USERNAME}", chat_id=group, chat_type="group")
    assert bot.fake.wait_for_reply(mine["message_id"], timeout=60)[0].text == RU.unknown_command
    time.sleep(0.5)
    assert bot.fake.replies_to(other["message_id"]) == []
    assert len(bot.fake.messages(group, mark)) == 1


def test_captions_are_questions_and_bare_media_gets_a_hint(bot: BotRun) -> None:
    mark = bot.fake.mark()
    photo = bot.fake.send_photo(21, caption="Что это за порт Актау?")
    answer = bot.fake.wait_for_reply(photo["message_id"], timeout=60)[0]
    assert "Актау" in answer.text and RU.non_text not in answer.text
    document = bot.fake.send_document(21, "scan.pdf", b"%PDF-1.4", caption="Что такое Средний коридор?")
    answer = bot.fake.wait_for_reply(document["message_id"], timeout=60)[0]
    assert "<blockquote expandable>" in answer.text and RU.not_admin not in answer.text
    assert not (bot.seeds / "scan.pdf").exists()
    mark = bot.fake.mark()
    bot.fake.send_photo(21)
    assert bot.fake.wait_for(21, since=mark)[0].text == RU.non_text
    mark = bot.fake.mark()
    bot.fake.send_sticker(6)
    assert bot.fake.wait_for(6, since=mark)[0].text == RU.non_text


def test_follow_up_is_read_with_the_previous_question(bot: BotRun) -> None:
    answer_to(bot, 22, CABLE)
    follow = answer_to(bot, 22, "а когда его достроят?")[0]
    assert f"Понял как уточнение к вопросу «{CABLE}»" in follow.text
    # a self-contained question starts afresh
    fresh = answer_to(bot, 22, "Что такое Средний коридор?")[0]
    assert "уточнение" not in fresh.text


def test_a_reply_to_an_answer_is_read_in_its_context(bot: BotRun) -> None:
    cable = answer_to(bot, 23, CABLE)[0]
    answer_to(bot, 23, "Что такое Средний коридор?")
    follow = answer_to(bot, 23, "а когда его достроят?", reply_to=cable.params["_result"])[0]
    assert f"Понял как уточнение к вопросу «{CABLE}»" in follow.text


def test_more_button_shows_the_next_passages_as_a_new_message(bot: BotRun) -> None:
    first = answer_to(bot, 7, "Что такое Средний коридор?")[-1]
    mark = bot.fake.mark()
    bot.fake.tap(7, first, button(first, "Ещё")["callback_data"])
    more = bot.fake.wait_for(7, since=mark)[0]
    assert more.text.startswith("Ещё по вопросу «Что такое Средний коридор?»:")
    assert more.text.count("<blockquote expandable>") >= 1
    edits = [s for s in bot.fake.sent[mark:] if s.method == "editMessageReplyMarkup"]
    assert edits and "Ещё" not in str(edits[-1].params.get("reply_markup"))


def test_context_button_shows_the_paragraphs_around(bot: BotRun) -> None:
    answer = answer_to(bot, 24, CABLE)[0]
    mark = bot.fake.mark()
    bot.fake.tap(24, answer, button(answer, "Контекст")["callback_data"])
    context = bot.fake.wait_for(24, since=mark)[0]
    assert context.text.startswith(RU.context_header)
    assert context.text.count("<blockquote>") >= 1 and "Актау и Алят" in context.text


def test_share_button_makes_a_deep_link_that_asks_again(bot: BotRun) -> None:
    answer = answer_to(bot, 25, CABLE)[0]
    share = urllib.parse.urlparse(button(answer, "Поделиться")["url"])
    assert share.netloc == "t.me" and share.path == "/share/url"
    link = urllib.parse.parse_qs(share.query)["url"][0]
    assert link.startswith(f"https://t.me/{BOT_USERNAME}?start=")
    payload = link.split("start=", 1)[1]
    opened = answer_to(bot, 26, f"/start {payload}")[0]
    assert opened.text.startswith(f"Вопрос: «{CABLE.lower()}»") and "Актау и Алят" in opened.text
    english = answer_to(bot, 26, "Which ports will the undersea cable across the Caspian Sea connect?")[0]
    shared = urllib.parse.parse_qs(urllib.parse.urlparse(button(english, "Поделиться")["url"]).query)["url"][
        0
    ]
    passage = answer_to(bot, 26, f"/start {shared.split('start=', 1)[1]}")[0]
    # the shared link opens the passage the English answer quoted (first or as the closest)
    assert passage.text.startswith("<b>") and passage.text.split("\n")[0] in english.text
    broken = bot.ask(26, "/start qnot-base64!!")[0]
    assert broken.text.startswith("Здравствуйте!")
    passage_link = deeplink.passage_payload("no-such-article:0", 0)
    assert bot.ask(26, f"/start {passage_link}")[0].text.startswith("Здравствуйте!")


def test_inline_mode_offers_passages_that_carry_their_source(bot: BotRun) -> None:
    query = bot.fake.send_inline_query(27, "кабель Актау Алят")
    results = bot.fake.wait_for_inline_answer(query)["results"]
    assert 1 <= len(results) <= 5
    for result in results:
        message = result["input_message_content"]["message_text"]
        shown = visible_text(message)
        assert "Источник: " in shown or "Автор: " in shown
        assert "2025" in shown or "дата не указана" in shown
        assert f"https://t.me/{BOT_USERNAME}?start=" in message
    assert any("Актау и Алят" in r["input_message_content"]["message_text"] for r in results)
    empty = bot.fake.wait_for_inline_answer(bot.fake.send_inline_query(27, ""))["results"]
    assert [r["title"] for r in empty] == [RU.inline_help_title]
    english = bot.fake.wait_for_inline_answer(bot.fake.send_inline_query(27, "", lang="en"))["results"]
    assert english[0]["title"] == texts.for_language("en").inline_help_title
    assert_nothing_rejected(bot.fake)


def test_callbacks_without_a_message_deleted_or_garbage_are_answered(bot: BotRun) -> None:
    first = answer_to(bot, 28, "Что такое Средний коридор?")[-1]
    more = button(first, "Ещё")["callback_data"]
    bot.fake.delete(first)
    mark = bot.fake.mark()
    tapped = bot.fake.tap(28, first, more)
    assert bot.fake.wait_for(28, since=mark)[0].text.startswith("Ещё по вопросу")  # sent anew
    assert bot.fake.wait_for_callback_answer(tapped).get("text") is None
    inline = bot.fake.tap(28, None, more, inline=True)
    assert bot.fake.wait_for_callback_answer(inline)["text"] == RU.button_expired
    garbage = bot.fake.tap(28, first, "definitely-not-ours")
    assert bot.fake.wait_for_callback_answer(garbage)["text"] == RU.button_expired
    assert "Traceback" not in bot.log_text()
    assert RU.error not in [m.text for m in bot.fake.messages(28)]


def test_long_answer_stays_within_telegram_limits(bot: BotRun) -> None:
    replies = answer_to(bot, 8, "Сколько суток ледокол Полярный Ветер шёл Северным морским путём?")
    assert "Полярный &lt;Ветер&gt;" in replies[0].text
    assert all(utf16_len(visible_text(r.text)) <= 4096 for r in replies)
    assert "…" in replies[0].text  # long passages are trimmed around the highlight
    assert_nothing_rejected(bot.fake)


def test_groups_answer_only_mentions_of_this_bot_and_replies(bot: BotRun) -> None:
    group = -500
    mark = bot.fake.mark()
    plain = bot.fake.send_text(9, "Что такое Средний коридор?", chat_id=group, chat_type="group")
    other_bot = bot.fake.send_text(
        9, f"@{BOT_USERNAME}2 Что такое Средний коридор?", chat_id=group, chat_type="group"
    )
    addressed = bot.fake.send_text(
        9, f"@{BOT_USERNAME} Что такое Средний коридор?", chat_id=group, chat_type="group"
    )
    answer = bot.fake.wait_for_reply(addressed["message_id"], timeout=60)[0]
    assert "<blockquote expandable>" in answer.text
    reply = bot.fake.send_text(
        9, "а кто это сказал?", chat_id=group, chat_type="group", reply_to=answer.params["_result"]
    )
    assert bot.fake.wait_for_reply(reply["message_id"], timeout=60)
    time.sleep(1.0)  # give a wrongly eager bot time to answer the others too
    assert bot.fake.replies_to(plain["message_id"]) == []
    assert bot.fake.replies_to(other_bot["message_id"]) == []
    replied = {
        int(m.params["reply_parameters"]["message_id"])
        for m in bot.fake.messages(group, mark)
        if m.params.get("reply_parameters")
    }
    assert replied == {addressed["message_id"], reply["message_id"]}


def test_flood_limit_counts_each_tapping_user_and_every_callback(tmp_path) -> None:
    """QUESTIONS_PER_MINUTE=2: three users tapping once each are all answered (the bucket is the
    tapping user's, not the bot's), and a user's third tap on "Ещё" is refused."""
    inline_budget = {"INLINE_QUERIES_PER_MINUTE": str(INLINE_BUDGET)}
    with running_bot(tmp_path, copy_seeds(tmp_path), per_minute=2, extra_env=inline_budget) as run:
        greeting = run.ask(1, "/start")[0]
        data = greeting.buttons[2]["callback_data"]
        for user in (31, 32, 33):
            mark = run.fake.mark()
            run.fake.tap(user, greeting, data)
            assert run.fake.wait_for(1, since=mark)[0].text.startswith("Вопрос:")
        first = answer_to(run, 34, "Что такое Средний коридор?")[-1]  # one of 34's two
        more = button(first, "Ещё")["callback_data"]
        ok = run.fake.tap(34, first, more)
        assert run.fake.wait_for_callback_answer(ok).get("text") is None
        refused = run.fake.tap(34, first, more)
        assert "Подождите" in run.fake.wait_for_callback_answer(refused)["text"]
        # inline queries have a budget of their own: typing must not eat the question budget
        queries = [run.fake.send_inline_query(35, "") for _ in range(INLINE_BUDGET + 1)]
        answers = [run.fake.wait_for_inline_answer(q)["results"] for q in queries]
        assert sum(a == [] for a in answers) == 1  # exactly one over the budget, empty
