"""Follow-up context: what reads as a follow-up, and the bounded per-chat memory."""

import asyncio

import pytest

from bot import conversation
from bot.conversation import FOLLOW_UP_SECONDS, MemoryConversations, Turn, reads_as_follow_up

CABLE = "Какие порты соединит кабель по дну Каспия?"


def context_for(question: str, last: Turn | None, replied: Turn | None, now: float) -> str | None:
    """The earlier question a new one is searched with, as the bot reads it."""
    turn = conversation.follows(question, last, replied, now)
    return turn.as_context() if turn else None


@pytest.mark.parametrize(
    "question",
    [
        "а когда его достроят?",
        "а сколько это стоит?",
        "кто это сказал?",
        "когда?",
        "and how much is it?",
        "а Токаев в Азербайджан сколько раз за это время?",
        "а такой проект раньше был?",
        "а с Турцией?",
    ],
)
def test_short_or_anaphoric_questions_are_follow_ups(question: str) -> None:
    assert reads_as_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Средний коридор",
        "SOCAR КазМунайГаз",
        CABLE,
        "Сколько соглашений подписали стороны в ходе визита?",
        "кто такой Гусейнов",
        "Что такое ОТГ?",
        "а по нефти в 2024 году что решили стороны?",
    ],
)
def test_self_contained_questions_start_afresh(question: str) -> None:
    assert not reads_as_follow_up(question)


def test_context_policy() -> None:
    last = Turn(CABLE, None, (7,), at=1000.0)
    assert context_for("а когда его достроят?", last, None, now=1000.0 + 60) == CABLE
    assert context_for("а когда его достроят?", last, None, now=1000.0 + FOLLOW_UP_SECONDS + 1) is None
    assert context_for("Что такое Средний коридор?", last, None, now=1010.0) is None
    # a reply to an answer is read with that answer's question, however it is worded, however late
    assert context_for("Что такое Средний коридор?", None, last, now=99999.0) == CABLE
    chained = Turn("а когда его достроят?", CABLE, (8,), at=1001.0)
    assert context_for("а сколько это стоит?", chained, None, now=1002.0) == f"{CABLE} а когда его достроят?"


def test_memory_is_bounded_in_chats_turns_and_time() -> None:
    now = [0.0]
    store = MemoryConversations(max_chats=2, turns=2, keep_seconds=100, clock=lambda: now[0])

    async def run() -> None:
        for chat in (1, 2, 3):
            await store.put(chat, Turn(f"q{chat}", None, (chat * 10,), now[0]))
        assert len(store) == 2 and await store.last(1) is None  # the least recent chat went first
        for i in range(3):
            await store.put(2, Turn(f"q2-{i}", None, (200 + i,), now[0]))
        assert await store.answered_by(2, 200) is None  # only two turns per chat are kept
        assert (await store.answered_by(2, 202)).question == "q2-2"
        now[0] = 101.0
        assert await store.last(2) is None and await store.last(3) is None

    asyncio.run(run())


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chats=0"):
        MemoryConversations(max_chats=0)


def test_a_thread_of_follow_ups_remembers_what_it_quoted() -> None:
    first = Turn("Какие порты соединит кабель?", None, (1,), 0.0, conversation.seen_after(None, ["a:1"]))
    assert first.shown == ("a:1",)
    second = conversation.seen_after(first, ["b:2", "a:1"])
    assert second == ("b:2", "a:1")  # the latest quote last, each once
    many = conversation.seen_after(None, [f"p:{i}" for i in range(conversation.MAX_SEEN + 5)])
    assert len(many) == conversation.MAX_SEEN and many[-1] == f"p:{conversation.MAX_SEEN + 4}"
    assert conversation.follows("а когда его достроят?", first, None, 10.0) is first
    assert conversation.follows("Что такое Средний коридор?", first, None, 10.0) is None
