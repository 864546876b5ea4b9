"""Stopping and restarting the real bot process, through the fake Bot API: a start-up rebuild
that fails, SIGTERM during an outage and during a build, SIGKILL in the middle of a build or an
upload, and what the next start finds."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bot.lifecycle import SHUTDOWN_GRACE
from retrieval.bench import seed_sentences, synthetic_corpus
from retrieval.index import KEPT_GENERATIONS, load_index
from testkit.articles import big_article
from testkit.botrun import ADMIN, SECOND_ADMIN, TOKEN, copy_seeds, start_bot, stop_bot
from testkit.fake_telegram import FakeTelegram, Fault
from testkit.paths import SEEDS

QUESTION = "Какие порты соединит подводный кабель по дну Каспия?"
ANSWER = "Актау и Алят"
START_TIMEOUT = 300.0
EXTRA_PASSAGES = 6000  # a build of several seconds, even with the fake encoder
FAST = "hash-64"  # the fake encoder: the real one would take minutes over the added passages


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram(TOKEN).start()
    yield server
    server.close()


def ask(fake: FakeTelegram, user: int, text: str = QUESTION, timeout: float = 120.0) -> str:
    message = fake.send_text(user, text)
    replies = fake.wait_for_reply(message["message_id"], timeout)
    assert replies, f"no answer to {text!r}"
    return replies[0].text


def test_a_failing_start_up_rebuild_serves_the_good_index_and_tells_each_admin(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    seeds, index, log = copy_seeds(tmp_path), tmp_path / "index", tmp_path / "bot.log"
    # the fake encoder: the real one would take minutes over the 1.2 MB article
    process = start_bot(fake, seeds, index, log, model="hash-64")
    fake.wait_for_call("getUpdates", timeout=START_TIMEOUT)
    stop_bot(process)
    live = (index / "CURRENT").read_text("utf-8")
    # A new article whose index no longer fits: every file the bot writes is capped at 1 MB.
    (seeds / "big.txt").write_text(big_article(1_200_000), "utf-8")
    process = start_bot(fake, seeds, index, log, max_file_bytes=1_000_000, model="hash-64")
    try:
        for admin in (ADMIN, SECOND_ADMIN):
            notice = fake.wait_for_text(admin, "прежнем индексе", timeout=START_TIMEOUT)
            assert "File too large" in notice.text and "/reindex" in notice.text
        assert ANSWER in ask(fake, 1)
        for admin in (ADMIN, SECOND_ADMIN):
            assert sum("прежнем индексе" in m.text for m in fake.messages(admin)) == 1
        assert process.poll() is None
    finally:
        stop_bot(process)
    assert (index / "CURRENT").read_text("utf-8") == live
    assert not [p.name for p in index.iterdir() if p.name.startswith((".building-", "CURRENT.tmp"))]
    assert "serving the last good one" in log.read_text("utf-8")


def leftovers(index: Path, seeds: Path) -> list[str]:
    staged = [p.name for p in index.iterdir() if p.name.startswith((".building-", "CURRENT.tmp"))]
    return staged + [p.name for p in seeds.glob(".*.uploading")]


def build_processes(index: Path) -> list[psutil.Process]:
    """Index builds (retrieval.buildjob) still running for this index folder."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "retrieval.buildjob" in cmdline and str(index) in cmdline:
            found.append(process)
    return found


def wait_gone(index: Path, timeout: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and build_processes(index):
        time.sleep(0.1)
    return build_processes(index)


@pytest.fixture
def big_seeds(tmp_path: Path) -> Path:
    """Seeds plus a synthetic archive, so that a build takes several seconds."""
    seeds = copy_seeds(tmp_path)
    synthetic_corpus(seed_sentences(SEEDS), EXTRA_PASSAGES, seeds)
    return seeds


def test_sigterm_during_an_outage_exits_within_the_grace_and_answers_after_restart(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    seeds, index, log = copy_seeds(tmp_path), tmp_path / "index", tmp_path / "bot.log"
    process = start_bot(fake, seeds, index, log)
    try:
        fake.wait_for_call("getUpdates", timeout=START_TIMEOUT)
        for method in ("sendMessage", "sendChatAction"):  # Telegram answers 502 to every reply
            fake.inject(method, Fault(502, "Bad Gateway", times=1_000_000))
        message = fake.send_text(1, QUESTION)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (fake.count("sendChatAction") + fake.count("sendMessage")):
            time.sleep(0.05)  # the bot is now retrying its reply
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(SHUTDOWN_GRACE + 20) == 0
        assert time.monotonic() - started < SHUTDOWN_GRACE + 20
        assert not fake.replies_to(message["message_id"])
    finally:
        stop_bot(process)
    fake.clear_faults()
    process = start_bot(fake, seeds, index, log)  # same DATA_DIR: the question was kept
    try:
        replies = fake.wait_for_reply(message["message_id"], START_TIMEOUT)
        assert replies and ANSWER in replies[0].text
        time.sleep(2)
        assert len(fake.replies_to(message["message_id"])) == 1
    finally:
        stop_bot(process)


def test_sigterm_during_a_build_cancels_it_and_keeps_the_live_index(
    tmp_path: Path, fake: FakeTelegram, big_seeds: Path
) -> None:
    index, log = tmp_path / "index", tmp_path / "bot.log"
    process = start_bot(fake, big_seeds, index, log, model=FAST)
    try:
        fake.wait_for_call("getUpdates", timeout=START_TIMEOUT)
        live = (index / "CURRENT").read_text("utf-8")
        mark = fake.mark()
        fake.send_text(ADMIN, "/reindex")
        fake.wait_for_text(ADMIN, "Перестраиваю", since=mark)
        time.sleep(1.5)  # the build is under way
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert time.monotonic() - started < 5, "shutdown waited for the build"
    finally:
        stop_bot(process)
    assert not wait_gone(index)
    assert (index / "CURRENT").read_text("utf-8") == live
    assert not leftovers(index, big_seeds)


def restart_and_check(fake: FakeTelegram, seeds: Path, index: Path, log: Path) -> None:
    """Start again after a crash: the bot answers from a valid index and nothing is left over."""
    process = start_bot(fake, seeds, index, log, model=FAST)
    try:
        assert ANSWER in ask(fake, 1, timeout=START_TIMEOUT)
        # The interrupted admin action was kept in the journal and runs again: wait until the
        # journal is empty, so its build (if any) is over.
        journal = index.parent / "data" / "updates"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and list(journal.glob("*.json")):
            time.sleep(0.2)
        assert not list(journal.glob("*.json"))
        assert not build_processes(index)
        assert not leftovers(index, seeds)
        assert len(list(index.glob("gen-*"))) <= KEPT_GENERATIONS
        load_index(index)  # complete and consistent
    finally:
        stop_bot(process)


def test_sigkill_during_a_build_then_restart(tmp_path: Path, fake: FakeTelegram, big_seeds: Path) -> None:
    index, log = tmp_path / "index", tmp_path / "bot.log"
    process = start_bot(fake, big_seeds, index, log, model=FAST)
    try:
        fake.wait_for_call("getUpdates", timeout=START_TIMEOUT)
        mark = fake.mark()
        fake.send_text(ADMIN, "/reindex")
        fake.wait_for_text(ADMIN, "Перестраиваю", since=mark)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(index.glob(".building-*")):
            time.sleep(0.02)  # the build is writing its generation
        process.kill()
        process.wait(10)
    finally:
        stop_bot(process)
    assert not wait_gone(index), "the build outlived the bot"
    restart_and_check(fake, big_seeds, index, log)


def test_sigkill_during_an_upload_then_restart(tmp_path: Path, fake: FakeTelegram) -> None:
    seeds, index, log = copy_seeds(tmp_path), tmp_path / "index", tmp_path / "bot.log"
    process = start_bot(fake, seeds, index, log, model=FAST)
    try:
        fake.wait_for_call("getUpdates", timeout=START_TIMEOUT)
        before = fake.count("getFile")
        fake.send_document(ADMIN, "ferry.txt", big_article(900_000).encode("utf-8"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and fake.count("getFile") == before:
            time.sleep(0.01)
        time.sleep(0.05)  # the download and the write are under way
        process.kill()
        process.wait(10)
    finally:
        stop_bot(process)
    assert not wait_gone(index)
    restart_and_check(fake, seeds, index, log)
