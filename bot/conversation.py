"""Conversation context for follow-up questions: the last questions and answers per chat.

`ConversationStore` is the small contract (the store engineer backs it with SQLite, keyed by
a keyed hash of the chat id); `MemoryConversations` is the in-memory one, bounded in chats,
turns per chat and age. `follows` is the policy: which earlier question a new message
is read with, if any.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

FOLLOW_UP_SECONDS = 300.0  # a short question this soon after the last one continues it
KEEP_SECONDS = 24 * 3600.0  # a reply to an older answer still finds its question, up to this age
TURNS_PER_CHAT = 8
MAX_CHATS = 10_000
MAX_CONTEXT_CHARS = 400  # a chain of follow-ups keeps only the latest words of its context
MAX_SEEN = 12  # passages a thread of follow-ups remembers having quoted
MAX_FOLLOW_UP_WORDS = 12  # a longer question brings its own context
MAX_BARE_WORDS = 4  # "а сколько?", "когда именно?": question words only
# "а с Турцией?" leans on the last question by its opener alone; a longer one that points at
# nothing said before ("а по нефти в 2024 что решили?") opens a topic of its own.
MAX_OPENER_WORDS = 5

_WORD = re.compile(r"[\w-]+")
# Words that point back to something said before, in the four languages.
_POINTING_BACK_WORDS = """
    его её ее их им ему ей него неё нее них он она оно они это этот эта эти этого этой этих этому
    этом там тогда туда оттуда такой такая такие тот та те того той
    it its they them their this that these those there then
    o onu onun onlar bu həmin orada
    ол оны оның олар бұл осы сол онда
"""
_POINTING_BACK = frozenset(_POINTING_BACK_WORDS.split())
# "кто такой Гусейнов?", "что такое ОТГ?" ask what a name means: they point at nothing said before.
_DEFINING = frozenset(["такой", "такая", "такие", "такое"])
# Openers of a follow-up ("а когда…", "and how much…").
_OPENERS = frozenset(["а", "и", "ещё", "еще", "тоже", "and", "also", "bəs", "ал"])
# A question of question words only ("а сколько?", "когда именно?") asks about the last topic.
_QUESTION_WORDS_TEXT = """
    кто что где когда куда откуда сколько почему зачем как какой какая какие каким чей именно ли
    who what where when how why which much many
    kim nə harada nə vaxt niyə necə hansı neçə
    кім не қайда қашан неше неге қалай қандай
"""
_QUESTION_WORDS = frozenset(_QUESTION_WORDS_TEXT.split())


@dataclass(frozen=True)
class Turn:
    """One answered question in a chat."""

    question: str  # as the user asked it
    context: str | None  # the earlier question it was read with, if it was a follow-up
    answer_ids: tuple[int, ...]  # message ids of the bot's answer, to recognise replies to it
    at: float  # time.time() of the answer
    shown: tuple[str, ...] = ()  # ids of the passages the answer quoted

    def as_context(self) -> str:
        """What a follow-up to this turn is searched with: its question, after its own context."""
        text = f"{self.context} {self.question}" if self.context else self.question
        return text[-MAX_CONTEXT_CHARS:].lstrip()


class ConversationStore(Protocol):
    """Recent turns per chat. Implementations bound their size and drop turns older than
    KEEP_SECONDS; the chat id is theirs to hash."""

    async def last(self, chat_id: int) -> Turn | None:
        """The chat's latest turn, or None."""
        ...

    async def answered_by(self, chat_id: int, message_id: int) -> Turn | None:
        """The turn whose answer includes this message (for a reply to it), or None."""
        ...

    async def put(self, chat_id: int, turn: Turn) -> None:
        """Remember a new turn as the chat's latest."""
        ...


class MemoryConversations:
    """ConversationStore in memory: at most MAX_CHATS chats (least recent dropped first),
    TURNS_PER_CHAT turns each, none older than KEEP_SECONDS."""

    def __init__(
        self,
        max_chats: int = MAX_CHATS,
        turns: int = TURNS_PER_CHAT,
        keep_seconds: float = KEEP_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_chats < 1 or turns < 1 or keep_seconds <= 0:
            raise ValueError(f"bad bounds: max_chats={max_chats}, turns={turns}, keep_seconds={keep_seconds}")
        self._chats: OrderedDict[int, deque[Turn]] = OrderedDict()
        self._max_chats = max_chats
        self._turns = turns
        self._keep = keep_seconds
        self._clock = clock

    def _recent(self, chat_id: int) -> list[Turn]:
        turns = self._chats.get(chat_id)
        if not turns:
            return []
        oldest = self._clock() - self._keep
        while turns and turns[0].at < oldest:
            turns.popleft()
        if not turns:
            del self._chats[chat_id]
        return list(turns)

    async def last(self, chat_id: int) -> Turn | None:
        recent = self._recent(chat_id)
        return recent[-1] if recent else None

    async def answered_by(self, chat_id: int, message_id: int) -> Turn | None:
        return next((t for t in reversed(self._recent(chat_id)) if message_id in t.answer_ids), None)

    async def put(self, chat_id: int, turn: Turn) -> None:
        turns = self._chats.pop(chat_id, None) or deque(maxlen=self._turns)
        turns.append(turn)
        self._chats[chat_id] = turns
        while len(self._chats) > self._max_chats:
            self._chats.popitem(last=False)

    def __len__(self) -> int:
        return len(self._chats)


def reads_as_follow_up(question: str) -> bool:
    """Does the question lean on the one before: "а когда его достроят?", "кто это сказал?",
    "а сколько?". Keywords like "Средний коридор" stand on their own."""
    words = [w.lower() for w in _WORD.findall(question)]
    if not words or len(words) > MAX_FOLLOW_UP_WORDS:
        return False
    pointing = (
        w in _POINTING_BACK and not (w in _DEFINING and i and words[i - 1] in ("кто", "что"))
        for i, w in enumerate(words)
    )
    if any(pointing) or (words[0] in _OPENERS and len(words) <= MAX_OPENER_WORDS):
        return True
    return len(words) <= MAX_BARE_WORDS and all(w in _QUESTION_WORDS for w in words)


def follows(question: str, last: Turn | None, replied: Turn | None, now: float) -> Turn | None:
    """The earlier turn to read `question` with: the one answered by the message it replies
    to; else the chat's last one, if this reads as a follow-up and came within a few minutes.
    A self-contained question starts afresh."""
    if replied is not None:
        return replied
    if last is not None and now - last.at <= FOLLOW_UP_SECONDS and reads_as_follow_up(question):
        return last
    return None


def seen_after(followed: Turn | None, shown: Sequence[str]) -> tuple[str, ...]:
    """The passages quoted so far in a thread of follow-ups, the latest last (at most
    MAX_SEEN): what the turn it follows quoted, then what this answer quoted (`shown`)."""
    ids = [*(followed.shown if followed else ()), *shown]
    return tuple(dict.fromkeys(reversed(ids)))[:MAX_SEEN][::-1]
