"""Choosing the sentence(s) of a passage that answer a question best."""

from __future__ import annotations

import re

import numpy as np

# What kind of answer a question asks for, and what a sentence holding it looks like.
_MONTHS = "январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр"
_ANSWER_CUES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(r"\b(когда|в каком году|к какому сроку|какого числа)\b|\bwhen\b", re.IGNORECASE),
        re.compile(rf"\b\d{{4}}\b|\b({_MONTHS})|накануне|\bгод", re.IGNORECASE),
    ),
    (
        re.compile(
            r"\b(сколько|во сколько|каков[аоы]? (объ[её]м|размер|сумма)|как(ой|ова|им) был)", re.IGNORECASE
        ),
        re.compile(
            r"\d|\b(один|два|три|четыре|пять|шесть|семь|восемь|девять|десять|сто|тысяч|миллион|миллиард)"
        ),
    ),
)
CUE_BONUS = 0.5
NEIGHBOUR_SHARE = 0.6
SHORT_SENTENCE = 60
MAX_SENTENCES = 2


def choose_highlight(
    spans: tuple[tuple[int, int], ...], texts: list[str], scores: np.ndarray, query: str
) -> tuple[tuple[int, int], ...]:
    """The best sentence, with its neighbour when that one answers nearly as well, when the
    best ends in a colon (it introduces a quote), or when the best is a short fragment."""
    if not spans:
        return ()
    scores = np.asarray(scores, dtype=np.float32).copy()
    top = float(scores.max(initial=0.0))
    for question_cue, sentence_cue in _ANSWER_CUES:
        if question_cue.search(query) and top > 0:
            scores += np.asarray([CUE_BONUS * top * bool(sentence_cue.search(t)) for t in texts])
    best = int(np.argmax(scores))
    chosen = [best]
    neighbours = [i for i in (best + 1, best - 1) if 0 <= i < len(spans)]
    if neighbours:
        follower = best + 1 if best + 1 < len(spans) else None
        lead_in = texts[best].rstrip().endswith(":") or len(texts[best]) < SHORT_SENTENCE
        if follower is not None and lead_in:
            chosen.append(follower)
        else:
            nearest = max(neighbours, key=lambda i: scores[i])
            if scores[best] > 0 and scores[nearest] >= NEIGHBOUR_SHARE * scores[best]:
                chosen.append(nearest)
    return tuple(spans[i] for i in sorted(chosen[:MAX_SENTENCES]))
