"""What a search returns: typed, free of FAISS and Telegram, shared by the CLI and the bot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from retrieval.corpus import Article, Passage

Confidence = Literal["high", "low", "none"]
CONFIDENCES: tuple[Confidence, ...] = ("high", "low", "none")


@dataclass(frozen=True)
class Hit:
    passage: Passage
    article: Article
    score: float
    highlight: tuple[tuple[int, int], ...]  # sentence spans within passage.text

    @property
    def highlight_text(self) -> str:
        return " ".join(self.passage.text[start:end] for start, end in self.highlight)


@dataclass(frozen=True)
class SearchResult:
    """Hits best first, listed even when nothing answers, and how sure the top one is:
    `high` it answers, `low` the articles touch the topic but may not answer, `none`
    nothing relevant."""

    query: str
    hits: tuple[Hit, ...]
    confidence: Confidence
    context: str | None = None  # the previous question this one was read with

    def __post_init__(self) -> None:
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")

    @property
    def abstained(self) -> bool:
        return self.confidence == "none"
