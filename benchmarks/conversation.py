"""A scripted conversation with the real bot process through the local fake Bot API.

    python -m benchmarks.conversation                     # the realistic questions, default model
    python -m benchmarks.conversation --model hash-64 --limit 10 --transcripts out.jsonl

Every question of the file is asked in a chat of its own, in the user's language (the
question's `lang`); a follow-up (a row with `context`) is asked right after its context
question in the same chat, as people do. Per question it prints the confidence the reply
showed (high: the answer first; low: "no exact answer, closest"; none: an honest no), whether
the reply holds the evidence (visible text, collapsed quotes included), the first-screen
length (collapsed quotes count their preview only) and, for follow-ups, whether the earlier
question was used. The summary gives the acceptance numbers: answerable questions met with
a bare refusal, follow-ups that lost their context, the median first screen at high.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot import render, texts
from retrieval.evaluate import EvalQuestion, load_questions
from testkit.botrun import TOKEN, copy_seeds, start_bot, stop_bot
from testkit.fake_telegram import FakeTelegram, Sent, visible_text
from testkit.paths import ROOT

REALISTIC = ROOT / "tests" / "data" / "questions.realistic.jsonl"  # copy of shared/eval
ANSWER_TIMEOUT = 120.0
QUIET = 0.4  # an answer is complete when its chat stays quiet this long
FIRST_USER = 5000


@dataclass
class Turn:
    qid: str
    kind: str
    lang: str
    question: str
    context: str | None
    confidence: str  # as shown: high, low, none, or other (small talk, an error...)
    holds_evidence: bool | None  # None for questions without evidence
    first_screen: int
    context_used: bool | None  # None for questions without context
    reply: str  # what the user saw, buttons of the last message as [..]


def shown_confidence(messages: list[Sent], t: texts.Texts) -> str:
    """Read back from the reply which of the three confidences the user was shown."""
    lines = messages[0].text.split("\n")
    headers = (t.you_asked.split("{")[0], "<i>" + t.followup_note.split("{")[0])
    body = "\n".join(line for line in lines if not line.startswith(headers)).lstrip()
    if body.startswith((t.low_header, t.followup_nothing_new)):  # the latter: a low follow-up
        return "low"
    if body.startswith(t.no_answer.split("{")[0]):
        return "none"
    return "high" if body.startswith("<b>") else "other"


def answer(fake: FakeTelegram, chat: int, text: str, lang: str) -> list[Sent]:
    mark = fake.mark()
    sent = fake.send_text(chat, text, lang=lang)
    if not fake.wait_for_reply(sent["message_id"], ANSWER_TIMEOUT):
        raise RuntimeError(f"no answer to {text!r} in {ANSWER_TIMEOUT:.0f}s")
    count = -1
    while count != len(fake.messages(chat, mark)):
        count = len(fake.messages(chat, mark))
        time.sleep(QUIET)
    return fake.messages(chat, mark)


def ask(fake: FakeTelegram, chat: int, question: EvalQuestion) -> Turn:
    t = texts.for_language(question.lang)
    if question.context:
        answer(fake, chat, question.context, question.lang)
    messages = answer(fake, chat, question.query, question.lang)
    shown = "\n\n".join(visible_text(m.text) for m in messages)
    buttons = " ".join(f"[{b['text']}]" for b in messages[-1].buttons)
    note = t.followup_note.split("{")[0]
    return Turn(
        qid=question.qid,
        kind=question.kind,
        lang=question.lang,
        question=question.query,
        context=question.context,
        confidence=shown_confidence(messages, t),
        holds_evidence=question.answered_by(shown) if question.evidence else None,
        first_screen=render.first_screen_chars(messages[0].text),
        context_used=(note in messages[0].text) if question.context else None,
        reply=f"{shown}\n{buttons}" if buttons else shown,
    )


def summary(turns: list[Turn]) -> dict:
    answerable = [t for t in turns if t.holds_evidence is not None]
    high = [t.first_screen for t in turns if t.confidence == "high"]
    return {
        "questions": len(turns),
        "confidence": {c: sum(t.confidence == c for t in turns) for c in ("high", "low", "none", "other")},
        "answerable": len(answerable),
        "evidence_shown": sum(bool(t.holds_evidence) for t in answerable),
        "answerable_bare_refusals": [t.qid for t in answerable if t.confidence == "none"],
        "follow_ups": sum(t.context is not None for t in turns),
        "follow_ups_without_context": [t.qid for t in turns if t.context_used is False],
        "follow_ups_with_evidence": sum(bool(t.holds_evidence) for t in turns if t.context is not None),
        "unanswerable_high": [t.qid for t in turns if t.holds_evidence is None and t.confidence == "high"],
        "median_first_screen_high": statistics.median(high) if high else None,
        "max_first_screen_high": max(high) if high else None,
    }


def run(questions: list[EvalQuestion], model: str | None, workdir: Path) -> list[Turn]:
    fake = FakeTelegram(TOKEN).start()
    extra = {"EMBEDDING_MODEL": model} if model else {}
    process = start_bot(fake, copy_seeds(workdir), workdir / "index", workdir / "bot.log", extra_env=extra)
    try:
        fake.wait_for_call("getUpdates", timeout=600)
        return [ask(fake, FIRST_USER + i, q) for i, q in enumerate(questions)]
    finally:
        stop_bot(process)
        fake.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.conversation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("questions", nargs="?", type=Path, default=REALISTIC, help="eval JSONL file")
    parser.add_argument("--model", help="EMBEDDING_MODEL for the bot (default: the project's default)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--transcripts", type=Path, help="write every turn (with the reply) as JSONL here")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args(argv)
    if not args.questions.is_file():
        parser.error(f"no such file: {args.questions}")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    questions = load_questions(args.questions)[: args.limit]
    with tempfile.TemporaryDirectory(prefix="conversation-") as folder:
        turns = run(questions, args.model, Path(folder))
    if args.transcripts:
        args.transcripts.write_text(
            "".join(json.dumps(asdict(t), ensure_ascii=False) + "\n" for t in turns), "utf-8"
        )
    result = summary(turns)
    if not args.json:
        print(
            f"{'id':5} {'kind':12} {'lang':4} {'shown':5} {'evidence':8} {'screen':6} {'context':7} question"
        )
        for t in turns:
            evidence = "-" if t.holds_evidence is None else ("yes" if t.holds_evidence else "NO")
            context = "-" if t.context_used is None else ("yes" if t.context_used else "LOST")
            row = f"{t.qid:5} {t.kind:12} {t.lang:4} {t.confidence:5} {evidence:8} {t.first_screen:6}"
            print(f"{row} {context:7} {t.question}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
