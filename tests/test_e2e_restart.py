"""Restarts of the real bot process through the fake Bot API: a start-up rebuild that fails,
crashes (SIGKILL) in the middle of a build or an upload, and what the next start finds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.botrun import ADMIN, SECOND_ADMIN, TOKEN, copy_seeds, start_bot, stop_bot
from testkit.fake_telegram import FakeTelegram

QUESTION = "Какие порты соединит подводный кабель по дну Каспия?"
ANSWER = "Актау и Алят"
START_TIMEOUT = 300.0


def big_article(size: int) -> str:
    """Distinct Russian sentences, in paragraphs, of about `size` bytes of UTF-8."""
    paragraphs, total, n = [], 0, 0
    while total < size:
        sentences = [f"Паром номер {n + i} перевёз {7 * (n + i)} тонн груза через Каспий." for i in range(8)]
        paragraphs.append(" ".join(sentences))
        total += len(paragraphs[-1].encode("utf-8")) + 2
        n += 8
    return "\n\n".join(paragraphs)


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
        assert process.poll() is None
    finally:
        stop_bot(process)
    assert (index / "CURRENT").read_text("utf-8") == live
    assert not [p.name for p in index.iterdir() if p.name.startswith((".building-", "CURRENT.tmp"))]
    assert "serving the last good one" in log.read_text("utf-8")
