"""Questions and conversation: greeting, help, questions (typed, captioned, deep-linked), small
talk, follow-ups, and everything else a user may send. Handlers parse the update and call
`ask`, the one answer flow (the buttons use it too)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import conversation, deeplink, feedback, render, smalltalk, texts
from bot.conversation import Turn
from bot.state import BotState, state
from bot.texts import Texts
from retrieval.results import Hit, SearchResult
from retrieval.service import QAService

log = logging.getLogger(__name__)

PAGES = 4  # "Ещё" reaches at most PAGES * TOP_K passages
MIN_QUESTION_CHARS = 2
TYPING_AFTER = 1.0  # seconds: a shorter wait needs no sign of life
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # article links would unfold into big cards


@dataclass(frozen=True)
class Asking:
    """A question to answer and where the answer goes."""

    question: str
    chat_id: int
    user_id: int  # whose flood bucket it counts against: the asker, never the bot
    t: Texts
    reply_to: int | None = None  # the user's message the answer replies to
    replied_to: int | None = None  # the bot's message the user replied to (a follow-up)
    from_button: bool = False  # the answer then says which question it answers


def question_problem(text: str, limit: int, t: Texts) -> str | None:
    stripped = text.strip()
    letters = sum(ch.isalnum() for ch in stripped)
    if not letters:  # nothing, whitespace, emoji or punctuation only
        return t.empty_question
    if len(stripped) > limit:
        return t.question_too_long.format(limit=limit)
    if letters < MIN_QUESTION_CHARS:
        return t.question_too_short
    return None


def examples_keyboard(questions: Sequence[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(q, callback_data=("ask", q))] for q in questions])


def answer_keyboard(
    result: SearchResult, reply: render.Reply, t: Texts, bot_username: str | None
) -> InlineKeyboardMarkup | None:
    """Suggestions when nothing answers; else "Ещё", "Контекст" and "Поделиться"."""
    if reply.suggestions:
        return examples_keyboard(reply.suggestions)
    row = []
    if reply.next_offset is not None:
        row.append(InlineKeyboardButton(t.more_button, callback_data=more_data(result, reply.next_offset)))
    if reply.shown:
        row.append(
            InlineKeyboardButton(t.context_button, callback_data=("ctx", reply.shown[0].passage.passage_id))
        )
    rows = [row] if row else []
    link = share_link(result, reply.shown, bot_username)
    if link:
        text = t.share_text.format(question=render.echo(result.query))  # plain text, not HTML
        rows.append([InlineKeyboardButton(t.share_button, url=deeplink.share_url(link, text))])
    return InlineKeyboardMarkup(rows) if rows else None


def more_data(result: SearchResult, offset: int) -> tuple:
    return ("more", result.query, result.context, offset)


def share_link(result: SearchResult, shown: Sequence[Hit], bot_username: str | None) -> str | None:
    """A deep link that asks this question again, or, for a follow-up (meaningless alone) or a
    question too long for a link, one that shows the top passage."""
    if not bot_username:
        return None
    payload = None if result.context else deeplink.question_payload(result.query)
    if payload is None and shown:
        hit = shown[0]
        start = hit.highlight[0][0] if hit.highlight else 0
        spans = hit.passage.sentences
        sentence = next((i for i, (first, end) in enumerate(spans) if first <= start < end), 0)
        payload = deeplink.passage_payload(hit.passage.passage_id, sentence)
    return deeplink.start_link(bot_username, payload) if payload else None


async def before_texts(service: QAService, hits: Sequence[Hit]) -> dict[str, str]:
    """The text before each hit's passage, where its speaker may have been introduced."""
    around = await service.surroundings([h.passage.passage_id for h in hits])
    return {pid: "\n\n".join(p.text for p in s.before) for pid, s in around.items()}


async def send(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    messages: Sequence[str],
    markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
) -> list[Message]:
    """Send the messages of one answer, the first as a reply, the buttons under the last."""
    sent = []
    for i, body in enumerate(messages):
        last = i == len(messages) - 1
        replying = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
        )
        sent.append(
            await context.bot.send_message(
                chat_id,
                body,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                reply_parameters=replying,
                link_preview_options=NO_PREVIEW,
            )
        )
    return sent


async def ask(context: ContextTypes.DEFAULT_TYPE, asking: Asking) -> None:
    """The answer flow: check, limit, read in context, search, render, reply, remember, log."""
    started = time.monotonic()
    shared = state(context)
    t = asking.t
    problem = question_problem(asking.question, shared.settings.max_question_chars, t)
    wait = 0.0 if problem else shared.limiter.check(asking.user_id)
    if problem or wait:
        notice = problem or t.flood.format(seconds=max(1, round(wait)))
        await send(context, asking.chat_id, [notice], reply_to=asking.reply_to)
        return
    question = " ".join(asking.question.split())
    typing = asyncio.create_task(_typing_after(context.bot, asking.chat_id, TYPING_AFTER))
    try:
        async with shared.answer_slots:  # "typing…" shows while it waits its turn too
            result, followed, reply = await _answer(shared, asking, question)
            typing.cancel()
            await _reply(context, asking, question, result, followed, reply, started)
    finally:
        typing.cancel()


async def _reply(
    context: ContextTypes.DEFAULT_TYPE,
    asking: Asking,
    question: str,
    result: SearchResult,
    followed: Turn | None,
    reply: render.Reply,
    started: float,
) -> None:
    """Send the answer with its buttons, log it, and remember it for a follow-up."""
    shared = state(context)
    answer_key = feedback.new_answer_key()
    markup = feedback.with_votes(answer_keyboard(result, reply, asking.t, context.bot.username), answer_key)
    in_flight = shared.answers_in_flight[answer_key] = asyncio.Event()
    try:
        sent = await send(context, asking.chat_id, reply.messages, markup, asking.reply_to)
        await feedback.log_answer(context, asking, result, answer_key, started)
    finally:  # a vote tapped meanwhile waits for this
        shared.answers_in_flight.pop(answer_key, None)
        in_flight.set()
    turn = Turn(
        question,
        result.context,
        tuple(m.message_id for m in sent),
        time.time(),
        conversation.seen_after(followed, [h.passage.passage_id for h in reply.shown]),
    )
    await shared.conversations.put(asking.chat_id, turn)


async def _typing_after(bot: Bot, chat_id: int, delay: float) -> None:
    """Show "typing…" when the answer is not there within `delay`; a faster one needs none,
    which saves a request per question. Cancelled when the answer is ready; a request
    already under way still runs to its end (`bot.resilience`)."""
    await asyncio.sleep(delay)
    with contextlib.suppress(TelegramError):  # only a courtesy: the answer itself still comes
        await bot.send_chat_action(chat_id, ChatAction.TYPING)


async def _answer(
    shared: BotState, asking: Asking, question: str
) -> tuple[SearchResult, Turn | None, render.Reply]:
    """The question read in its conversation (the turn it follows, if any), searched and rendered."""
    conversations = shared.conversations
    replied = (
        await conversations.answered_by(asking.chat_id, asking.replied_to) if asking.replied_to else None
    )
    last = await conversations.last(asking.chat_id)
    followed = conversation.follows(question, last, replied, time.time())
    result, reply = await search_and_render(
        shared.service, question, followed, asking.t, shared.settings.top_k, asking.from_button
    )
    return result, followed, reply


async def search_and_render(
    service: QAService, question: str, followed: Turn | None, t: Texts, top_k: int, asked: bool = False
) -> tuple[SearchResult, render.Reply]:
    """The question searched (with the turn it follows up, if any) and its first reply, which
    names speakers introduced in the paragraphs before a quote (the console's answer too)."""
    earlier = followed.as_context() if followed else None
    result = await service.ask(question, top_k * PAGES, context=earlier)
    before = await before_texts(service, result.hits[: render.LOW_PASSAGES + 3])
    seen = frozenset(followed.shown) if followed else frozenset()
    reply = await asyncio.to_thread(render.answer, result, t, before, asked, seen)
    return result, reply


def addressed_text(message: Message, bot_id: int, bot_username: str | None) -> str | None:
    """The question in a message (text or caption), or None in a group when the message is not
    meant for the bot: it neither replies to the bot nor mentions it (read from the entities,
    so @other_bot2 does not count as @other_bot)."""
    text = message.text if message.text is not None else (message.caption or "")
    if message.chat.type == ChatType.PRIVATE:
        return text
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot_id:
        return text
    kinds = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    entities = (
        message.parse_entities(kinds) if message.text is not None else message.parse_caption_entities(kinds)
    )
    for entity, value in entities.items():
        ours = (
            entity.type == MessageEntity.MENTION
            and bot_username
            and value[1:].lower() == bot_username.lower()
        ) or (entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id)
        if ours:
            return " ".join(text.replace(value, " ", 1).split())
    return None


def asking_for(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> Asking:
    message = update.effective_message
    user = update.effective_user
    replied = message.reply_to_message
    replied_bot = (
        replied.message_id
        if replied and replied.from_user and replied.from_user.id == context.bot.id
        else None
    )
    return Asking(
        question,
        message.chat_id,
        user.id if user else message.chat_id,
        texts.for_user(user),
        reply_to=message.message_id,
        replied_to=replied_bot,
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and offer examples; with a deep-link payload, answer the question it carries."""
    t = texts.for_user(update.effective_user)
    if context.args:
        await open_link(update, context, context.args[0], t)
        return
    outlets = render.outlets(state(context).service.articles())
    await update.effective_message.reply_text(
        t.start.format(outlets=outlets), parse_mode=ParseMode.HTML, reply_markup=examples_keyboard(t.examples)
    )


async def open_link(update: Update, context: ContextTypes.DEFAULT_TYPE, payload: str, t: Texts) -> None:
    """`?start=<payload>`: a question, or a shared passage; a broken link gets the greeting."""
    target = deeplink.parse(payload)
    if isinstance(target, deeplink.Question):
        await ask(context, dataclasses.replace(asking_for(update, context, target.text), from_button=True))
        return
    found = await state(context).service.passage(target.passage_id) if target else None
    if found is None:
        context.args = []
        await start(update, context)
        return
    passage, article = found
    sentence = (
        passage.sentences[min(target.sentence, len(passage.sentences) - 1)] if passage.sentences else None
    )
    hit = Hit(passage, article, 1.0, (sentence,) if sentence else ())
    before = await before_texts(state(context).service, [hit])
    reply = await asyncio.to_thread(render.answer, SearchResult("", (hit,), "high"), t, before)
    await send(
        context, update.effective_chat.id, reply.messages, reply_to=update.effective_message.message_id
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """How to ask, what answers contain, the commands."""
    t = texts.for_user(update.effective_user)
    body = t.help.format(bot=html.escape(context.bot.username or ""))
    if update.effective_user and update.effective_user.id in state(context).settings.admin_ids:
        body += "\n\n" + t.help_admin
    await update.effective_message.reply_text(body, parse_mode=ParseMode.HTML)


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message, or a photo or document with a caption: small talk or a question."""
    message = update.effective_message
    text = addressed_text(message, context.bot.id, context.bot.username)
    if text is None:
        return
    t = texts.for_user(update.effective_user)
    kind = smalltalk.classify(text)
    if kind is None:
        await ask(context, asking_for(update, context, text))
        return
    markup = None if kind == "thanks" else examples_keyboard(t.examples)
    await message.reply_text(
        smalltalk_reply(kind, t), parse_mode=ParseMode.HTML, reply_markup=markup, do_quote=True
    )


def smalltalk_reply(kind: smalltalk.Kind, t: texts.Texts) -> str:
    """The answer to a greeting, thanks or "what can you do?" (the examples follow but for thanks)."""
    return {"greeting": t.greeting_reply, "thanks": t.thanks_reply, "abilities": t.abilities_reply}[kind]


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have: a hint (in groups only when addressed to this bot)."""
    message = update.effective_message
    command = (message.text or "").split()[0]
    _, _, addressee = command.partition("@")
    mine = addressee.lower() == (context.bot.username or "").lower()
    if message.chat.type == ChatType.PRIVATE or mine:
        await message.reply_text(texts.for_user(update.effective_user).unknown_command, do_quote=True)


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, voice, photos without a caption and the like: say what the bot can do."""
    message = update.effective_message
    addressed = addressed_text(message, context.bot.id, context.bot.username) is not None
    if message.chat.type == ChatType.PRIVATE or addressed:
        await message.reply_text(texts.for_user(update.effective_user).non_text, do_quote=True)
