"""The SQLite store: real database files, no mocks."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.conversation import Turn
from bot.persistence import StorePersistence, dump_callback_data, load_callback_data
from bot.store import (
    DB_FILE,
    KEY_FILE,
    MIGRATIONS,
    IdHasher,
    QuestionRecord,
    Store,
    StoreConversations,
    Vote,
    normalise_question,
)

from .conftest import ROOT

USER = 731_594_286  # distinctive: found in a file only if it was stored raw
OTHER = 731_594_287


def record(question: str = "Когда Алиев прибыл в Астану?", confidence: str = "high", **kw) -> QuestionRecord:
    values = dict(
        answer_key=secrets.token_hex(6),
        user_id=USER,
        chat_type="private",
        language="ru",
        question=question,
        confidence=confidence,
        passage_ids=("a:1", "b:2"),
        latency_ms=120,
    )
    return QuestionRecord(**{**values, **kw})


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(tmp_path / "data")
    yield opened
    opened.close()


def test_schema_is_migrated_and_in_wal_mode(store: Store) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"questions", "feedback", "pending", "turns", "callback_data"} <= tables


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    sqlite3.connect(path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        Store(path, IdHasher(b"k" * 32), 30)


def test_one_vote_per_user_and_answer_changeable(store: Store) -> None:
    async def scenario() -> None:
        answer = record()
        await store.log_question(answer)
        answer = answer.answer_key
        assert await store.vote(answer, USER, 1) is Vote.NEW
        assert await store.vote(answer, USER, -1) is Vote.CHANGED  # changed, not added
        assert await store.vote(answer, USER, -1) is Vote.SAME
        assert await store.vote_reason(answer, USER, "wrong_source")
        assert await store.vote(answer, OTHER, 1)
        assert await store.vote("no-such-answer", USER, 1) is Vote.MISSING
        assert not await store.vote_reason(answer, OTHER, "no_answer")  # OTHER voted 👍
        stats = await store.stats()
        assert (stats.votes_up, stats.votes_down) == (1, 1)
        assert stats.reasons == {"wrong_source": 1}
        await store.vote(answer, USER, 1)
        assert (await store.stats()).reasons == {}  # a changed vote forgets the old reason

    asyncio.run(scenario())


def test_stats_group_what_the_articles_miss(store: Store) -> None:
    async def scenario() -> None:
        await store.log_question(record("Сколько стоит биткоин?", "none", latency_ms=100))
        await store.log_question(record("сколько  стоит БИТКОИН", "none", latency_ms=300))
        voted = record("Где прошла встреча?", "low", latency_ms=200)
        await store.log_question(voted)
        await store.log_question(record("Что такое Средний коридор?", "high", latency_ms=400))
        await store.vote(voted.answer_key, USER, -1)
        stats = await store.stats()
        assert stats.total == 4
        assert stats.confidence == {"none": 2, "low": 1, "high": 1}
        assert stats.median_latency_ms == 250
        assert stats.missed[0] == ("сколько стоит биткоин", 2)
        assert ("где прошла встреча", 1) in stats.missed
        assert all("коридор" not in q for q, _ in stats.missed)
        assert sum(n for _, n in stats.per_day) == 4

    asyncio.run(scenario())


def test_retention_drops_old_rows_and_their_votes(tmp_path: Path) -> None:
    store = Store.open(tmp_path, retention_days=1)

    async def scenario() -> int:
        old_record = record("старый вопрос")
        old = await store.log_question(old_record)
        await store.vote(old_record.answer_key, USER, 1)
        await store.log_question(record("новый вопрос"))
        return old

    old = asyncio.run(scenario())
    store.close()
    db = sqlite3.connect(tmp_path / DB_FILE)
    with db:
        db.execute("UPDATE questions SET at = at - 2 * 86400 WHERE id = ?", (old,))
    db.close()
    reopened = Store.open(tmp_path, retention_days=1)
    rows = asyncio.run(reopened.export_rows())
    reopened.close()
    assert [r["question"] for r in rows] == ["новый вопрос"]
    assert sqlite3.connect(tmp_path / DB_FILE).execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_pending_runs_once_and_only_for_its_user(store: Store) -> None:
    async def scenario() -> None:
        token = await store.put_pending("upload", USER, {"name": "a.txt"}, b"\x00data")
        assert await store.take_pending(token, OTHER) is None
        pending = await store.take_pending(token, USER)
        assert pending.payload == {"name": "a.txt"} and pending.data == b"\x00data"
        assert await store.take_pending(token, USER) is None

    asyncio.run(scenario())


def test_turns_are_bounded_per_chat_and_in_age(store: Store) -> None:
    async def scenario() -> None:
        now = time.time()
        for n in range(5):
            await store.put_turn(-100, Turn(f"вопрос {n}", None, (n, n + 100), now), 60, per_chat=3)
        await store.put_turn(-200, Turn("старый", "контекст", (1,), now - 120), 60, per_chat=3)
        turns = await store.recent_turns(-100, 60, limit=10)
        assert [t.question for t in turns] == ["вопрос 4", "вопрос 3", "вопрос 2"]
        assert turns[0].answer_ids == (4, 104)
        assert await store.recent_turns(-200, 60, limit=10) == []  # too old
        assert await store.recent_turns(-101, 60, limit=10) == []

    asyncio.run(scenario())


def test_store_conversations_keep_follow_ups_across_a_restart(tmp_path: Path) -> None:
    async def write() -> None:
        store = Store.open(tmp_path)
        await StoreConversations(store).put(
            -100, Turn("Что такое Средний коридор?", None, (10, 11), time.time(), ("a:1", "b:2"))
        )
        store.close()

    async def read() -> tuple:
        store = Store.open(tmp_path)
        conversations = StoreConversations(store)
        found = (
            await conversations.last(-100),
            await conversations.answered_by(-100, 11),
            await conversations.answered_by(-100, 12),
        )
        store.close()
        return found

    asyncio.run(write())
    last, replied, other = asyncio.run(read())
    assert last.question == "Что такое Средний коридор?" and last.as_context() == last.question
    assert replied == last and other is None
    assert last.shown == ("a:1", "b:2")


def test_turns_of_the_first_schema_read_with_nothing_shown(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.executescript(MIGRATIONS[0])
    db.execute(
        "INSERT INTO turns (chat_hash, at, question, context, answer_ids) VALUES (?, ?, ?, NULL, ?)",
        (IdHasher.from_dir(tmp_path).chat(-100), time.time(), "Что такое Средний коридор?", "[10]"),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    async def read() -> Turn | None:
        store = Store.open(tmp_path)
        try:
            return await StoreConversations(store).last(-100)
        finally:
            store.close()

    turn = asyncio.run(read())
    assert turn is not None and turn.question == "Что такое Средний коридор?" and turn.shown == ()


def test_no_raw_id_in_the_files(tmp_path: Path) -> None:
    store = Store.open(tmp_path)

    async def scenario() -> None:
        answer = record(chat_type="group")
        await store.log_question(answer)
        await store.vote(answer.answer_key, USER, -1)
        await store.put_pending("delete", USER, {"name": "x.txt"})
        await store.put_turn(USER, Turn("q", None, (1,), time.time()), 60, 3)

    asyncio.run(scenario())
    rows = asyncio.run(store.export_rows())
    assert rows[0]["user"] == IdHasher.from_dir(tmp_path).user(USER) != str(USER)
    files = {path.name: path.read_bytes() for path in tmp_path.iterdir()}  # the WAL too
    store.close()
    files.update({path.name: path.read_bytes() for path in tmp_path.iterdir()})
    assert DB_FILE + "-wal" in files
    for name, content in files.items():
        assert str(USER).encode() not in content, name
        assert USER.to_bytes(4, "big") not in content, name  # nor as an SQLite integer


def test_hash_key_is_generated_once_private_and_kept(tmp_path: Path) -> None:
    first = IdHasher.from_dir(tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert IdHasher.from_dir(tmp_path).user(USER) == first.user(USER)
    assert IdHasher.from_dir(tmp_path, "x" * 20).user(USER) != first.user(USER)
    assert first.user(USER) != first.chat(USER)


def test_button_state_round_trips_with_tuples(store: Store) -> None:
    data = (
        [("kb1", 1700000000.5, {"b1": ("more", "вопрос", 3), "b2": ["a", None], "b3": "plain"})],
        {"q": "kb1"},
    )
    assert load_callback_data(dump_callback_data(data)) == data

    async def scenario() -> None:
        persistence = StorePersistence(store)
        await persistence.update_callback_data(data)
        assert await StorePersistence(store).get_callback_data() == data

    asyncio.run(scenario())


def test_button_state_refuses_objects_but_keeps_the_rest() -> None:
    data = ([("good", 1.0, {"b": ("x", 1)}), ("bad", 2.0, {"b": object()})], {})
    kept, _ = load_callback_data(dump_callback_data(data))
    assert [k[0] for k in kept] == ["good"]
    assert "object" not in json.dumps(dump_callback_data(data))


def test_normalise_question() -> None:
    assert normalise_question("  Ещё РАЗ: где, ёлки?! ") == "еще раз где елки"


WRITER = """
import asyncio, sys
from bot.store import QuestionRecord, Store

async def main():
    store = Store.open(sys.argv[1])
    n = 0
    while True:
        n += 1
        key = f"k{sys.argv[2]}-{n}"
        row = QuestionRecord(key, n, "private", "ru", f"вопрос {n}", "high", ("p",), n)
        rid = await store.log_question(row)
        await store.vote(key, n, 1 if n % 2 else -1)
        print(rid, n, flush=True)  # acknowledged: both calls returned

asyncio.run(main())
"""


@pytest.mark.parametrize("after", [5, 60, 250])
def test_sigkill_loses_no_acknowledged_row_or_vote(tmp_path: Path, after: int) -> None:
    data = tmp_path / "data"
    acked: dict[int, int] = {}
    for _round in range(2):  # the second run starts on the file the first one was killed over
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(_round)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while len(acked) < after * (_round + 1) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            rid, n = map(int, line.split())
            acked[rid] = n
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
    assert len(acked) >= after * 2
    db = sqlite3.connect(data / DB_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = dict(db.execute("SELECT id, latency_ms FROM questions").fetchall())
    votes = dict(db.execute("SELECT question_id, vote FROM feedback").fetchall())
    for rid, n in acked.items():
        assert rows.get(rid) == n, f"acknowledged row {rid} lost"
        assert votes.get(rid) == (1 if n % 2 else -1), f"acknowledged vote on {rid} lost"
