"""The bot's durable store: question log, feedback, pending admin confirmations, conversation
context and button state, in one SQLite file in DATA_DIR.

Every call is a coroutine that runs on one thread of its own (SQLite connections are not
shared between threads), so the event loop never waits on the disk. WAL mode with
synchronous=FULL: a call that returned has been committed and survives a SIGKILL or a power
cut. Telegram ids never reach the file: users and chats are stored as keyed HMAC hashes
(`IdHasher`), with a key from the settings or a generated key file beside the database.

The public coroutines are the whole interface; another database (one shared by several bot
replicas) can take its place by providing the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.conversation import KEEP_SECONDS, TURNS_PER_CHAT, Turn

log = logging.getLogger(__name__)

DB_FILE = "bot.sqlite3"
KEY_FILE = "id-hash.key"
PENDING_TTL_SECONDS = 24 * 3600
PURGE_EVERY_SECONDS = 3600
VOTES = (1, -1)
REASONS = ("wrong_passage", "no_answer", "wrong_source")

T = TypeVar("T")

# Each step moves the schema from version i to i + 1 (PRAGMA user_version); never edit a
# released step, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        answer_key TEXT NOT NULL UNIQUE,
        at REAL NOT NULL,
        chat_type TEXT NOT NULL,
        language TEXT,
        user_hash TEXT NOT NULL,
        question TEXT NOT NULL,
        confidence TEXT NOT NULL,
        passages TEXT NOT NULL,
        latency_ms INTEGER NOT NULL
    );
    CREATE INDEX questions_at ON questions(at);
    CREATE TABLE feedback (
        question_id INTEGER NOT NULL REFERENCES questions(id) ON DELETE CASCADE,
        user_hash TEXT NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (1, -1)),
        reason TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (question_id, user_hash)
    );
    CREATE TABLE pending (
        token TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        user_hash TEXT NOT NULL,
        payload TEXT NOT NULL,
        data BLOB,
        at REAL NOT NULL
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        chat_hash TEXT NOT NULL,
        at REAL NOT NULL,
        question TEXT NOT NULL,
        context TEXT,
        answer_ids TEXT NOT NULL
    );
    CREATE INDEX turns_chat ON turns(chat_hash, id);
    CREATE INDEX turns_at ON turns(at);
    CREATE TABLE callback_data (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        payload TEXT NOT NULL
    );
    """,
    # the passages each answer quoted, so that a follow-up does not quote them again
    """
    ALTER TABLE turns ADD COLUMN shown TEXT NOT NULL DEFAULT '[]';
    """,
)


class IdHasher:
    """Keyed hashes of Telegram ids: stable for one key, useless without it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError(f"the id hash key must have at least 16 bytes, got {len(key)}")
        self._key = key

    @classmethod
    def from_dir(cls, data_dir: Path, secret: str | None = None) -> IdHasher:
        """The configured secret, else the key file in data_dir (created on first use, mode 0600)."""
        if secret:
            return cls(secret.encode("utf-8"))
        path = Path(data_dir) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_name(f".{KEY_FILE}.{os.getpid()}")
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process was faster: use its key
                os.link(staging, path)
            staging.unlink()
        return cls(path.read_text("ascii").strip().encode("ascii"))

    def __call__(self, kind: str, value: int) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def user(self, user_id: int) -> str:
        return self("user", user_id)

    def chat(self, chat_id: int) -> str:
        return self("chat", chat_id)


class Vote(enum.Enum):
    NEW = "new"
    CHANGED = "changed"
    SAME = "same"
    MISSING = "missing"

    def __bool__(self) -> bool:  # recorded at all
        return self is not Vote.MISSING


@dataclass(frozen=True)
class QuestionRecord:
    """One answered question, as the handlers know it; answer_key names it in vote buttons."""

    answer_key: str
    user_id: int
    chat_type: str
    language: str | None
    question: str
    confidence: str
    passage_ids: tuple[str, ...]
    latency_ms: int


@dataclass(frozen=True)
class Pending:
    """An admin action waiting for a yes or no."""

    token: str
    kind: str
    payload: dict[str, Any]
    data: bytes | None


@dataclass(frozen=True)
class Stats:
    days: int
    per_day: tuple[tuple[str, int], ...]  # ISO date, questions
    confidence: dict[str, int]
    median_latency_ms: float | None
    votes_up: int
    votes_down: int
    reasons: dict[str, int]
    missed: tuple[tuple[str, int], ...]  # normalised question, how often answered none or voted down

    @property
    def total(self) -> int:
        return sum(self.confidence.values())


_PUNCT = re.compile(r"[^\w\s]+")


def normalise_question(text: str) -> str:
    """Case, ё/е, punctuation and spacing removed, so that rewordings of a question group."""
    return " ".join(_PUNCT.sub(" ", text.lower().replace("ё", "е")).split())


class Store:
    """SQLite store; open with `Store.open(data_dir, ...)`, close with `close()`."""

    def __init__(self, path: Path, hasher: IdHasher, retention_days: int) -> None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.path = Path(path)
        self.hash = hasher
        self.retention_days = retention_days
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._db: sqlite3.Connection | None = None
        self._last_purge = 0.0
        self._pool.submit(self._connect).result()

    @classmethod
    def open(cls, data_dir: Path, secret: str | None = None, retention_days: int = 90) -> Store:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_FILE, IdHasher.from_dir(data_dir, secret), retention_days)

    # -- plumbing --------------------------------------------------------------------------
    def _connect(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a commit that returned is on disk
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"{self.path} has schema version {version}, newer than this bot knows")
        for number in range(version, len(MIGRATIONS)):
            try:  # one transaction per step: the schema and its version number change together
                db.executescript(
                    f"BEGIN IMMEDIATE; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
                )
            except sqlite3.Error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            log.info("store schema migrated to version %d", number + 1)
        self._db = db
        self._purge()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with _transaction(self._db):
            return self._db.execute(sql, params)

    def close(self) -> None:
        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        with contextlib.suppress(RuntimeError):
            self._pool.submit(shut).result()
        self._pool.shutdown(wait=True)

    def _purge(self) -> None:
        """Drop log rows (and their votes) past retention, and confirmations nobody answered."""
        now = time.time()
        with _transaction(self._db):
            self._db.execute("DELETE FROM questions WHERE at < ?", (now - self.retention_days * 86400,))
            self._db.execute("DELETE FROM pending WHERE at < ?", (now - PENDING_TTL_SECONDS,))
        self._last_purge = now

    # -- question log and feedback ---------------------------------------------------------
    async def log_question(self, record: QuestionRecord) -> int:
        """Append to the question log; returns the row id."""
        return await self._run(self._log_question, record)

    def _log_question(self, r: QuestionRecord) -> int:
        if time.time() - self._last_purge > PURGE_EVERY_SECONDS:
            self._purge()
        cursor = self._write(
            "INSERT INTO questions (answer_key, at, chat_type, language, user_hash, question, confidence,"
            " passages, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.answer_key,
                time.time(),
                r.chat_type,
                r.language,
                self.hash.user(r.user_id),
                r.question,
                r.confidence,
                json.dumps(list(r.passage_ids), ensure_ascii=False),
                r.latency_ms,
            ),
        )
        return int(cursor.lastrowid)

    async def vote(self, answer_key: str, user_id: int, vote: int) -> Vote:
        """Record or change a user's vote on an answer: whether it is new, changed, the same as
        before, or MISSING (the answer is not in the log, or no longer)."""
        if vote not in VOTES:
            raise ValueError(f"vote must be 1 or -1, got {vote!r}")
        return await self._run(self._vote, answer_key, self.hash.user(user_id), vote)

    def _vote(self, answer_key: str, user_hash: str, vote: int) -> Vote:
        with _transaction(self._db):
            row = self._db.execute("SELECT id FROM questions WHERE answer_key = ?", (answer_key,)).fetchone()
            if row is None:
                return Vote.MISSING
            question_id = row[0]
            before = self._db.execute(
                "SELECT vote FROM feedback WHERE question_id = ? AND user_hash = ?", (question_id, user_hash)
            ).fetchone()
            self._db.execute(
                "INSERT INTO feedback (question_id, user_hash, vote, reason, at) VALUES (?, ?, ?, NULL, ?)"
                " ON CONFLICT (question_id, user_hash) DO UPDATE SET vote = excluded.vote,"
                " reason = CASE WHEN excluded.vote = feedback.vote THEN feedback.reason END,"
                " at = excluded.at",
                (question_id, user_hash, vote, time.time()),
            )
        if before is None:
            return Vote.NEW
        return Vote.SAME if before[0] == vote else Vote.CHANGED

    async def vote_reason(self, answer_key: str, user_id: int, reason: str) -> bool:
        """Why a 👎: only on the user's own 👎; False when there is none."""
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}, got {reason!r}")
        cursor = await self._run(
            self._write,
            "UPDATE feedback SET reason = ?, at = ? WHERE user_hash = ? AND vote = -1"
            " AND question_id = (SELECT id FROM questions WHERE answer_key = ?)",
            (reason, time.time(), self.hash.user(user_id), answer_key),
        )
        return cursor.rowcount == 1

    async def stats(self, days: int = 30, top: int = 10) -> Stats:
        return await self._run(self._stats, days, top)

    def _stats(self, days: int, top: int) -> Stats:
        since = time.time() - days * 86400
        rows = self._db.execute(
            "SELECT q.at, q.question, q.confidence, q.latency_ms,"
            " (SELECT COUNT(*) FROM feedback f WHERE f.question_id = q.id AND f.vote = -1)"
            " FROM questions q WHERE q.at >= ?",
            (since,),
        ).fetchall()
        per_day = Counter(dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat() for at, *_ in rows)
        confidence = Counter(row[2] for row in rows)
        missed = Counter(normalise_question(q) for _, q, conf, _, down in rows if conf == "none" or down)
        votes = dict(
            self._db.execute(
                "SELECT f.vote, COUNT(*) FROM feedback f JOIN questions q ON q.id = f.question_id"
                " WHERE q.at >= ? GROUP BY f.vote",
                (since,),
            ).fetchall()
        )
        reasons = dict(
            self._db.execute(
                "SELECT f.reason, COUNT(*) FROM feedback f JOIN questions q ON q.id = f.question_id"
                " WHERE q.at >= ? AND f.vote = -1 AND f.reason IS NOT NULL GROUP BY f.reason",
                (since,),
            ).fetchall()
        )
        return Stats(
            days=days,
            per_day=tuple(sorted(per_day.items())),
            confidence=dict(confidence),
            median_latency_ms=statistics.median(r[3] for r in rows) if rows else None,
            votes_up=votes.get(1, 0),
            votes_down=votes.get(-1, 0),
            reasons=reasons,
            missed=tuple(missed.most_common(top)),
        )

    async def export_rows(self) -> list[dict[str, Any]]:
        """The whole question log with its votes, oldest first (hashed users only)."""
        return await self._run(self._export_rows)

    def _export_rows(self) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT q.id, q.at, q.chat_type, q.language, q.user_hash, q.question, q.confidence,"
            " q.passages, q.latency_ms,"
            " COALESCE((SELECT SUM(vote = 1) FROM feedback f WHERE f.question_id = q.id), 0),"
            " COALESCE((SELECT SUM(vote = -1) FROM feedback f WHERE f.question_id = q.id), 0),"
            " (SELECT GROUP_CONCAT(reason, ' ') FROM feedback f WHERE f.question_id = q.id)"
            " FROM questions q ORDER BY q.id"
        )
        names = [
            "id",
            "time",
            "chat_type",
            "language",
            "user",
            "question",
            "confidence",
            "passages",
            "latency_ms",
            "votes_up",
            "votes_down",
            "reasons",
        ]
        rows = []
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            row["time"] = dt.datetime.fromtimestamp(row["time"], dt.UTC).isoformat(timespec="seconds")
            row["passages"] = " ".join(json.loads(row["passages"]))
            row["reasons"] = row["reasons"] or ""
            rows.append(row)
        return rows

    # -- pending admin confirmations -------------------------------------------------------
    async def put_pending(
        self, kind: str, user_id: int, payload: dict[str, Any], data: bytes | None = None
    ) -> str:
        """Remember an action awaiting the user's confirmation; the token names it in a button."""
        token = secrets.token_urlsafe(9)
        await self._run(
            self._write,
            "INSERT INTO pending (token, kind, user_hash, payload, data, at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                token,
                kind,
                self.hash.user(user_id),
                json.dumps(payload, ensure_ascii=False),
                data,
                time.time(),
            ),
        )
        return token

    async def take_pending(self, token: str, user_id: int) -> Pending | None:
        """The user's pending action, removed so that it runs once; None if unknown, expired or
        someone else's."""
        return await self._run(self._take_pending, token, self.hash.user(user_id))

    def _take_pending(self, token: str, user_hash: str) -> Pending | None:
        with _transaction(self._db):
            row = self._db.execute(
                "DELETE FROM pending WHERE token = ? AND user_hash = ? AND at >= ?"
                " RETURNING kind, payload, data",
                (token, user_hash, time.time() - PENDING_TTL_SECONDS),
            ).fetchone()
        if row is None:
            return None
        return Pending(token, row[0], json.loads(row[1]), row[2])

    # -- conversation context ------------------------------------------------------------
    async def recent_turns(self, chat_id: int, keep_seconds: float, limit: int) -> list[Turn]:
        """The chat's latest turns, newest first, none older than keep_seconds."""
        return await self._run(self._recent_turns, self.hash.chat(chat_id), keep_seconds, limit)

    def _recent_turns(self, chat_hash: str, keep_seconds: float, limit: int) -> list[Turn]:
        rows = self._db.execute(
            "SELECT question, context, answer_ids, at, shown FROM turns WHERE chat_hash = ? AND at >= ?"
            " ORDER BY id DESC LIMIT ?",
            (chat_hash, time.time() - keep_seconds, limit),
        ).fetchall()
        return [
            Turn(q, c, tuple(json.loads(ids)), at, tuple(json.loads(shown))) for q, c, ids, at, shown in rows
        ]

    async def put_turn(self, chat_id: int, turn: Turn, keep_seconds: float, per_chat: int) -> None:
        """Add the chat's newest turn; older turns beyond per_chat or keep_seconds go."""
        await self._run(self._put_turn, self.hash.chat(chat_id), turn, keep_seconds, per_chat)

    def _put_turn(self, chat_hash: str, turn: Turn, keep_seconds: float, per_chat: int) -> None:
        with _transaction(self._db):
            self._db.execute(
                "INSERT INTO turns (chat_hash, at, question, context, answer_ids, shown)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    chat_hash,
                    turn.at,
                    turn.question,
                    turn.context,
                    json.dumps(list(turn.answer_ids)),
                    json.dumps(list(turn.shown)),
                ),
            )
            self._db.execute(
                "DELETE FROM turns WHERE chat_hash = ? AND id NOT IN"
                " (SELECT id FROM turns WHERE chat_hash = ? ORDER BY id DESC LIMIT ?)",
                (chat_hash, chat_hash, per_chat),
            )
            self._db.execute("DELETE FROM turns WHERE at < ?", (time.time() - keep_seconds,))

    # -- button state (python-telegram-bot's callback data cache) ----------------------------
    async def load_callback_data(self) -> str | None:
        row = await self._run(
            lambda: self._db.execute("SELECT payload FROM callback_data WHERE id = 1").fetchone()
        )
        return row[0] if row else None

    async def save_callback_data(self, payload: str) -> None:
        await self._run(
            self._write,
            "INSERT INTO callback_data (id, payload) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET payload = excluded.payload",
            (payload,),
        )


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection):
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""
    if db.in_transaction:  # nested: the outer block commits
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class StoreConversations:
    """bot.conversation.ConversationStore on the store: turns survive restarts, chats are
    keyed by a keyed hash, at most TURNS_PER_CHAT per chat and none older than KEEP_SECONDS."""

    def __init__(self, store: Store, turns: int = TURNS_PER_CHAT, keep_seconds: float = KEEP_SECONDS) -> None:
        if turns < 1 or keep_seconds <= 0:
            raise ValueError(f"bad bounds: turns={turns}, keep_seconds={keep_seconds}")
        self._store = store
        self._turns = turns
        self._keep = keep_seconds

    async def last(self, chat_id: int) -> Turn | None:
        recent = await self._store.recent_turns(chat_id, self._keep, 1)
        return recent[0] if recent else None

    async def answered_by(self, chat_id: int, message_id: int) -> Turn | None:
        recent = await self._store.recent_turns(chat_id, self._keep, self._turns)
        return next((t for t in recent if message_id in t.answer_ids), None)

    async def put(self, chat_id: int, turn: Turn) -> None:
        await self._store.put_turn(chat_id, turn, self._keep, self._turns)
