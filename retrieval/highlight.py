"""Choosing the sentence(s) of a passage that answer a question best."""

from __future__ import annotations

import numpy as np

SHORT_SENTENCE = 60
MAX_SENTENCES = 2


def choose_highlight(
    spans: tuple[tuple[int, int], ...], texts: list[str], scores: np.ndarray, neighbour_margin: float = 0.0
) -> tuple[tuple[int, int], ...]:
    """The best-scoring sentence, with the next one when the best ends in a colon (it
    introduces a quote) or is a short fragment that cannot stand alone, else with the
    adjacent one that scores within `neighbour_margin` of it (the answer may sit in either)."""
    if not spans:
        return ()
    scores = np.asarray(scores, dtype=np.float32)
    best = int(np.argmax(scores))
    chosen = [best]
    lead_in = texts[best].rstrip().endswith(":") or len(texts[best]) < SHORT_SENTENCE
    neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(spans)]
    if lead_in and best + 1 < len(spans):
        chosen.append(best + 1)
    elif neighbours:
        nearest = max(neighbours, key=lambda i: scores[i])
        if scores[best] - scores[nearest] <= neighbour_margin:
            chosen.append(nearest)
    return tuple(spans[i] for i in sorted(chosen[:MAX_SENTENCES]))
