"""Choosing the sentence(s) of a passage that answer a question best."""

from __future__ import annotations

import numpy as np

SHORT_SENTENCE = 60
MAX_SENTENCES = 2


def choose_highlight(
    spans: tuple[tuple[int, int], ...], texts: list[str], scores: np.ndarray
) -> tuple[tuple[int, int], ...]:
    """The best-scoring sentence, with the next one when the best ends in a colon (it
    introduces a quote) or is a short fragment that cannot stand alone."""
    if not spans:
        return ()
    best = int(np.argmax(np.asarray(scores, dtype=np.float32)))
    chosen = [best]
    lead_in = texts[best].rstrip().endswith(":") or len(texts[best]) < SHORT_SENTENCE
    if lead_in and best + 1 < len(spans):
        chosen.append(best + 1)
    return tuple(spans[i] for i in chosen[:MAX_SENTENCES])
