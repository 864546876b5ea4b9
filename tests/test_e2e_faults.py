"""Fault injection through the fake Bot API: odd questions, Telegram errors and outages,
concurrency during reindexing, flood limits and admin rights. The bot process is unmodified."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrieval.bench import seed_sentences, synthetic_corpus
from testkit.botrun import (
    ADMIN,
    SECOND_ADMIN,
    TOKEN,
    BotRun,
    copy_seeds,
    free_port,
    running_bot,
    start_bot,
    stop_bot,
)
from testkit.fake_telegram import FakeTelegram, Fault

from .conftest import SEEDS

FLOOD_LIMIT = 6
EXTRA_PASSAGES = 3000  # makes a reindex take seconds, so questions can arrive during it
QUESTION = "Какие порты соединит подводный кабель по дну Каспия?"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotRun]:
    workdir = tmp_path_factory.mktemp("faults")
    seeds = copy_seeds(workdir)
    synthetic_corpus(seed_sentences(SEEDS), EXTRA_PASSAGES, seeds)
    # the fake encoder: the real one would take minutes over the synthetic passages
    with running_bot(workdir, seeds, per_minute=FLOOD_LIMIT, model="hash-64") as run:
        yield run
    assert not any(TOKEN in s.text for s in run.fake.sent), "the token leaked into a reply"


def answer_to(bot: BotRun, user: int, text: str, timeout: float = 60.0) -> tuple[list, float]:
    started = time.monotonic()
    message = bot.fake.send_text(user, text)
    deadline = started + timeout
    while time.monotonic() < deadline:
        replies = bot.fake.replies_to(message["message_id"]) or bot.fake.messages(user, 0)
        if replies:
            return replies, time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"no answer to {text!r} within {timeout}s")


ODD_QUESTIONS = [
    "   ",
    "а",
    "x" * 4096,
    "😀😀😀",
    "2025",
    "<b>жирный</b> <i>курсив <a href='x'>ссылка</a> & &amp; &#0; </script>",
    "*bold* _italic_ [ссылка](http://example.com) `код` ~~зачёркнуто~~",
    "ما هي العلاقات بين أذربيجان وكازاخستان؟",
    "שלום \u202eтекст\u202c справа налево",
    "Aliyev и Токаев met в Astana? 漢字 ελληνικά",
    "\u200b\u200b\u200b",
]


@pytest.mark.parametrize("text", ODD_QUESTIONS, ids=range(len(ODD_QUESTIONS)))
def test_odd_questions_get_a_valid_reply_in_bounded_time(bot: BotRun, text: str) -> None:
    user = 2000 + ODD_QUESTIONS.index(text)
    replies, seconds = answer_to(bot, user, text, timeout=30)
    assert replies and seconds < 30
    assert not bot.fake.rejected, bot.fake.rejected


def test_429_retry_after_is_respected(bot: BotRun) -> None:
    bot.fake.inject("sendMessage", Fault(429, "Too Many Requests: retry after 2", retry_after=2))
    replies, seconds = answer_to(bot, 3001, QUESTION)
    assert "Актау и Алят" in replies[0].text  # the answer itself, not an apology
    assert seconds >= 2


def test_5xx_answers_are_retried(bot: BotRun) -> None:
    bot.fake.inject("sendMessage", Fault(502, "Bad Gateway", times=3))
    replies, _ = answer_to(bot, 3002, QUESTION)
    assert "Актау и Алят" in replies[0].text


def test_a_hanging_api_call_times_out_and_is_retried(bot: BotRun) -> None:
    bot.fake.inject("sendMessage", Fault(0, delay=7))  # longer than the client's 5 s timeout
    message = bot.fake.send_text(3003, QUESTION)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not bot.fake.replies_to(message["message_id"]):
        time.sleep(0.05)
    time.sleep(3)
    # The hung request may still land after the retry: at-least-once, never lost.
    assert 1 <= len(bot.fake.replies_to(message["message_id"])) <= 2


def test_api_down_mid_run_then_back(bot: BotRun) -> None:
    bot.fake.stop()
    try:
        message = bot.fake.send_text(3004, QUESTION)  # queued while the API refuses connections
        time.sleep(4)
        assert not bot.fake.replies_to(message["message_id"])
    finally:
        bot.fake.resume()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not bot.fake.replies_to(message["message_id"]):
        time.sleep(0.1)
    assert len(bot.fake.replies_to(message["message_id"])) == 1
    assert bot.process.poll() is None


def test_getupdates_errors_do_not_stop_polling(bot: BotRun) -> None:
    bot.fake.inject("getUpdates", Fault(500, "Internal Server Error", times=3))
    replies, _ = answer_to(bot, 3005, QUESTION, timeout=90)
    assert replies


def test_flood_limit_says_wait(bot: BotRun) -> None:
    user = 3100
    mark = bot.fake.mark()
    for i in range(FLOOD_LIMIT + 1):
        bot.fake.send_text(user, f"Что такое Средний коридор? {i}")
    replies = bot.fake.wait_for(user, FLOOD_LIMIT + 1, since=mark)
    waits = [r for r in replies if "Подождите" in r.text]
    assert len(waits) == 1


def test_questions_during_a_reindex_all_get_exactly_one_answer(bot: BotRun) -> None:
    mark = bot.fake.mark()
    bot.fake.send_text(ADMIN, "/reindex")
    bot.fake.wait_for_text(ADMIN, "Перестраиваю", since=mark)
    questions = [bot.fake.send_text(4000 + i, QUESTION) for i in range(50)]
    done = bot.fake.wait_for_text(ADMIN, "Индекс обновлён", since=mark, timeout=180)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(bot.fake.replies_to(q["message_id"]) for q in questions):
        time.sleep(0.1)
    time.sleep(1)
    counts = [len(bot.fake.replies_to(q["message_id"])) for q in questions]
    assert counts == [1] * 50
    first_answer = min(bot.fake.replies_to(q["message_id"])[0].at for q in questions)
    assert first_answer < done.at, "questions waited for the reindex instead of using the old index"


def test_two_admins_asking_at_once_get_one_build(bot: BotRun) -> None:
    mark = bot.fake.mark()
    barrier = threading.Barrier(2)

    def ask(admin: int) -> None:
        barrier.wait()
        bot.fake.send_text(admin, "/reindex")

    threads = [threading.Thread(target=ask, args=(a,)) for a in (ADMIN, SECOND_ADMIN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 180
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [m.text for m in bot.fake.messages(None, mark) if m.chat_id in (ADMIN, SECOND_ADMIN)]
        if any("Индекс обновлён" in t for t in texts) and any("уже идёт" in t for t in texts):
            break
        time.sleep(0.1)
    assert sum("Индекс обновлён" in t for t in texts) == 1
    assert sum("уже идёт" in t for t in texts) == 1


def test_admin_rights_are_by_user_id_not_chat(bot: BotRun) -> None:
    mark = bot.fake.mark()
    bot.fake.send_text(555, "/reindex", chat_id=ADMIN, chat_type="group")
    assert "только администраторам" in bot.fake.wait_for(ADMIN, since=mark)[0].text


def test_admin_actions_are_logged_with_who_and_when(bot: BotRun) -> None:
    """Who as a keyed hash of the user id: the same admin is recognisable, the id is not in the log."""
    log = bot.log_text()
    found = re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO bot\.admin: admin ([0-9a-f]{12}): /reindex", log, re.M
    )
    assert found
    assert re.search(r"WARNING bot\.admin: refused admin action to user [0-9a-f]{12}$", log, re.M)
    assert f"user {ADMIN}:" not in log and f"admin {ADMIN}:" not in log


def test_connection_refused_at_startup_then_the_api_comes_up(tmp_path: Path) -> None:
    port = free_port()
    fake = FakeTelegram(TOKEN)
    process = start_bot(fake, copy_seeds(tmp_path), tmp_path / "index", tmp_path / "bot.log", port=port)
    log = tmp_path / "bot.log"
    try:
        deadline = time.monotonic() + 120  # until the bot has met a refused connection
        while time.monotonic() < deadline and "getMe failed" not in log.read_text("utf-8", "replace"):
            time.sleep(0.2)
        assert process.poll() is None, log.read_text()
        fake.start(port)
        fake.wait_for_call("getUpdates", timeout=120)
        message = fake.send_text(1, QUESTION)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not fake.replies_to(message["message_id"]):
            time.sleep(0.05)
        assert fake.replies_to(message["message_id"])
    finally:
        stop_bot(process)
        fake.close()
    text = log.read_text("utf-8", "replace")
    assert "getMe failed" in text and TOKEN not in text


@pytest.mark.parametrize("configured", ["webhook-secret-0123456789", None], ids=["secret", "no-secret"])
def test_webhook_mode_refuses_forged_updates(tmp_path: Path, configured: str | None) -> None:
    """With WEBHOOK_SECRET the bot passes it to setWebhook; without, it makes up a random one.
    Either way an update posted without that secret is refused."""
    fake = FakeTelegram(TOKEN).start()
    port = free_port()
    env = {"WEBHOOK_URL": "https://bot.example.org/telegram", "WEBHOOK_PORT": str(port)}
    env["WEBHOOK_SECRET"] = configured or ""
    log = tmp_path / "bot.log"
    process = start_bot(fake, copy_seeds(tmp_path), tmp_path / "index", log, extra_env=env)
    try:
        fake.wait_for_call("setWebhook", timeout=120)
        assert fake.webhook["url"] == "https://bot.example.org/telegram"
        secret = fake.webhook.get("secret_token")
        if configured:
            assert secret == configured
        else:
            assert secret and len(secret) >= 32 and re.fullmatch(r"[A-Za-z0-9_-]+", secret)
            assert "WEBHOOK_SECRET is not set" in log.read_text("utf-8")
        # An update that spoofs an admin running /reindex, then an ordinary question.
        forged = {"update_id": 1, "message": fake.message_for(ADMIN, "/reindex")}
        forged["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 8}]
        url = f"http://127.0.0.1:{port}/telegram"
        deadline = time.monotonic() + 60
        while True:  # the webhook server starts right after setWebhook
            try:
                without = httpx.post(url, json=forged)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        wrong = httpx.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert (without.status_code, wrong.status_code) == (403, 403)
        update = {"update_id": 2, "message": fake.message_for(1, QUESTION)}
        done = httpx.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert done.status_code == 200
        replies = fake.wait_for_reply(update["message"]["message_id"], 60)
        assert len(replies) == 1 and "<blockquote expandable>" in replies[0].text
        assert not fake.messages(ADMIN), "a forged /reindex was handled"
        assert "getUpdates" not in fake.calls
    finally:
        stop_bot(process)
        fake.close()
    assert secret not in log.read_text("utf-8")
