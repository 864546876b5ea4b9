"""The question pipeline in a terminal: the same answers as in Telegram, as plain text."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from bot import conversation, render, smalltalk, texts
from bot.conversation import Turn
from bot.questions import before_texts, question_problem, search_and_render, smalltalk_reply
from retrieval.results import SearchResult
from retrieval.service import QAService

MORE = {"ещё", "еще", "more", "daha", "тағы", "+"}


def terminal_language() -> str | None:
    """The terminal's language from the locale variables ("en_US.UTF-8" -> "en"), if any."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value.split(".")[0].split("_")[0]
    return None


async def console(service: QAService, top_k: int, max_chars: int, language: str | None = None) -> None:
    t = texts.for_language(language or terminal_language())
    print(render.to_plain(t.start.format(outlets=render.outlets(service.articles()))))
    examples = t.console_examples.format(examples=" | ".join(t.examples))
    print("\n" + examples)
    print(t.console_prompt + "\n")
    result: SearchResult | None = None
    last: Turn | None = None
    offset: int | None = 0
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or not line.strip():
            return
        text = " ".join(line.split())
        if text.lower() in MORE and result is not None:
            start = len(result.hits) if offset is None else offset
            before = await before_texts(service, result.hits[start : start + top_k])
            reply = render.more(result, start, top_k, t, before)
        elif kind := smalltalk.classify(text):  # as in Telegram: no search for "привет"
            print(
                render.to_plain(smalltalk_reply(kind, t))
                + ("" if kind == "thanks" else "\n" + examples)
                + "\n"
            )
            continue
        else:
            problem = question_problem(text, max_chars, t)
            if problem:
                print(problem + "\n")
                continue
            followed = conversation.follows(text, last, None, time.time())
            result, reply = await search_and_render(service, text, followed, t, top_k)
            seen = conversation.seen_after(followed, [h.passage.passage_id for h in reply.shown])
            last = Turn(text, result.context, (), time.time(), seen)
        offset = reply.next_offset
        buttons = "".join(f"\n  [{topic}]" for topic in reply.suggestions)  # Telegram shows them as buttons
        print("\n\n".join(render.to_plain(m) for m in reply.messages) + buttons + "\n", flush=True)
