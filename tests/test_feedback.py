"""Votes against the real store: a vote tapped before its answer's log row exists waits for it."""

import asyncio
from types import SimpleNamespace

from bot import feedback, texts
from bot.state import STATE_KEY
from bot.store import QuestionRecord, Store


class Query:
    """The callback query of a vote button: only what the handler touches."""

    def __init__(self, data: tuple) -> None:
        self.data = data
        self.answers: list[str | None] = []

    async def answer(self, text: str | None = None) -> None:
        self.answers.append(text)


def vote_update(answer_key: str, value: int) -> SimpleNamespace:
    user = SimpleNamespace(id=5, language_code="ru")
    return SimpleNamespace(callback_query=Query(("vote", answer_key, value)), effective_user=user)


def record(answer_key: str) -> QuestionRecord:
    return QuestionRecord(answer_key, 5, "private", "ru", "Что такое Средний коридор?", "high", ("a:1",), 30)


def test_a_vote_tapped_before_the_log_row_waits_for_it(tmp_path) -> None:
    async def scenario() -> tuple[list, list]:
        store = Store.open(tmp_path)
        shared = SimpleNamespace(store=store, answers_in_flight={})
        context = SimpleNamespace(application=SimpleNamespace(bot_data={STATE_KEY: shared}))
        try:
            in_flight = shared.answers_in_flight.setdefault("sent", asyncio.Event())
            early = vote_update("sent", 1)
            voting = asyncio.create_task(feedback.vote(early, context))
            await asyncio.sleep(0.2)  # the answer is out, its row not yet written
            await store.log_question(record("sent"))
            in_flight.set()
            await voting
            gone = vote_update("never-logged", 1)
            await feedback.vote(gone, context)
            return early.callback_query.answers, gone.callback_query.answers
        finally:
            store.close()

    early, gone = asyncio.run(scenario())
    assert early == [texts.RU.vote_thanks]
    assert gone == [texts.RU.vote_gone]
