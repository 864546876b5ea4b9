"""Under load, questions are answered a bounded number at a time, in the order asked (the
real answer flow, service and SQLite store; only the Bot API is a stand-in), and a request
under way is never cut short."""

import asyncio
import itertools
from types import SimpleNamespace

from bot import texts
from bot.conversation import MemoryConversations
from bot.questions import Asking, ask
from bot.ratelimit import FloodLimiter
from bot.resilience import RetryingLimiter
from bot.state import ANSWERS_AT_ONCE, STATE_KEY, BotState
from bot.store import Store

QUESTIONS = 3 * ANSWERS_AT_ONCE


class CountingService:
    """The real service, counting the searches under way at once and the order they start in."""

    def __init__(self, service) -> None:
        self._service = service
        self.running = 0
        self.most_at_once = 0
        self.started: list[str] = []

    async def ask(self, query: str, k: int, context: str | None = None):
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.started.append(query)
        try:
            await asyncio.sleep(0.01)  # a search takes a while: the others pile up meanwhile
            return await self._service.ask(query, k, context)
        finally:
            self.running -= 1

    def __getattr__(self, name: str):
        return getattr(self._service, name)


class Bot:
    """Accepts what the answer flow sends, in the order it arrives."""

    username = "visit_qa_bot"

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.sent_to: list[int] = []

    async def send_message(self, chat_id: int, text: str, **_) -> SimpleNamespace:
        await asyncio.sleep(0)  # a request leaves the event loop for a moment
        self.sent_to.append(chat_id)
        return SimpleNamespace(message_id=next(self.ids))

    async def send_chat_action(self, chat_id: int, action: str) -> None:
        return None


def test_questions_asked_at_once_are_answered_a_bounded_number_at_a_time_in_order(service, tmp_path) -> None:
    async def scenario() -> tuple[CountingService, Bot, list[str]]:
        store = Store.open(tmp_path / "data")
        counting = CountingService(service)
        shared = BotState(
            counting,
            SimpleNamespace(max_question_chars=500, top_k=3),
            FloodLimiter(10_000),
            store,
            FloodLimiter(10_000),
            MemoryConversations(),
        )
        bot = Bot()
        context = SimpleNamespace(bot=bot, application=SimpleNamespace(bot_data={STATE_KEY: shared}))
        questions = [f"Сколько соглашений подписали стороны? ({n})" for n in range(QUESTIONS)]
        try:
            await asyncio.gather(
                *(ask(context, Asking(q, 1000 + n, 1000 + n, texts.RU)) for n, q in enumerate(questions))
            )
        finally:
            store.close()
        return counting, bot, questions

    counting, bot, questions = asyncio.run(scenario())
    assert counting.most_at_once == ANSWERS_AT_ONCE
    assert counting.started == questions  # each waits its turn, none overtakes
    assert sorted(bot.sent_to) == [1000 + n for n in range(QUESTIONS)]  # every one answered once


def test_a_request_under_way_runs_to_its_end_when_its_caller_is_cancelled() -> None:
    """A Bot API request cancelled while it waits for a pooled connection keeps that connection
    for good (httpcore); the answer cancels its "typing…" task, but not the request in it."""
    steps: list[str] = []

    async def send_chat_action() -> bool:
        steps.append("sent")
        await asyncio.sleep(0.05)  # waiting for a pooled connection, say
        steps.append("done")
        return True

    async def scenario() -> None:
        caller = asyncio.create_task(
            RetryingLimiter().process_request(send_chat_action, (), {}, "sendChatAction", {}, None)
        )
        await asyncio.sleep(0.01)  # the request is under way
        caller.cancel()  # the answer is ready
        await asyncio.sleep(0.1)

    asyncio.run(scenario())
    assert steps == ["sent", "done"]
