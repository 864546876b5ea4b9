"""The question pipeline in a terminal: plain text, no Telegram needed."""

from __future__ import annotations

import asyncio
import html
import sys

from bot import render, texts
from bot.handlers import PAGES, question_problem
from retrieval.service import QAService

MORE = {"ещё", "еще", "more", "+"}


async def console(service: QAService, top_k: int, max_chars: int) -> None:
    t = texts.RU
    print(html.unescape(t.start.format(outlets=render.outlets(service.articles()))))
    print("\nПримеры: " + " | ".join(t.examples))
    print("Введите вопрос; «ещё» — следующие фрагменты; пустая строка или Ctrl-D — выход.\n")
    last, offset = None, 0
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or not line.strip():
            return
        text = line.strip()
        if text.lower() in MORE and last is not None:
            offset += top_k
        else:
            problem = question_problem(text, max_chars, t)
            if problem:
                print(problem + "\n")
                continue
            last, offset = text, 0
        result = await service.ask(last, top_k * PAGES)
        print(render.plain_answer(result, offset, top_k, t) + "\n", flush=True)
