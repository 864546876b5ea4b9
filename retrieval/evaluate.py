"""Quality report on an eval file: recall, confidence mix and highlight accuracy per question kind."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.results import CONFIDENCES, Confidence, SearchResult
from retrieval.text import normalise_for_match

UNANSWERABLE = "unanswerable"
# A search with the previous question of the conversation (None for a fresh question).
SearchFn = Callable[[str, str | None], SearchResult]


@dataclass(frozen=True)
class EvalQuestion:
    qid: str
    kind: str
    lang: str
    query: str
    evidence: tuple[str, ...]
    context: str | None = None
    source: str = ""  # the eval file's name, for reports over several files

    def answered_by(self, text: str) -> bool:
        body = normalise_for_match(text)
        return any(normalise_for_match(e) in body for e in self.evidence)


@dataclass(frozen=True)
class Outcome:
    question: EvalQuestion
    rank: int | None  # 1-based rank of the first answering passage within k, None if absent
    confidence: Confidence
    highlight_has_answer: bool
    seconds: float = 0.0  # the search's wall time

    @property
    def abstained(self) -> bool:
        return self.confidence == "none"


@dataclass(frozen=True)
class Report:
    outcomes: list[Outcome]

    def answerable(self, kinds: Sequence[str] | None = None) -> list[Outcome]:
        return [
            o for o in self.outcomes if o.question.evidence and (kinds is None or o.question.kind in kinds)
        ]

    def unanswerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.question.evidence]

    def recall(self, at: int, kinds: Sequence[str] | None = None) -> float:
        ranked = self.answerable(kinds)
        return sum(o.rank is not None and o.rank <= at for o in ranked) / max(len(ranked), 1)

    def mrr(self, kinds: Sequence[str] | None = None) -> float:
        ranked = self.answerable(kinds)
        return sum(1 / o.rank for o in ranked if o.rank) / max(len(ranked), 1)

    def share(self, confidence: Confidence, outcomes: list[Outcome]) -> float:
        return sum(o.confidence == confidence for o in outcomes) / max(len(outcomes), 1)

    def abstained_answerable(self) -> float:
        return self.share("none", self.answerable())

    def abstained_unanswerable(self) -> float:
        return self.share("none", self.unanswerable())

    def highlight_accuracy(self) -> float:
        correct_top = [o for o in self.outcomes if o.rank == 1]
        return sum(o.highlight_has_answer for o in correct_top) / max(len(correct_top), 1)

    def latency_ms(self, percentile: float) -> float:
        seconds = [o.seconds for o in self.outcomes]
        return float(np.percentile(seconds, percentile)) * 1000 if seconds else 0.0

    def render(self) -> str:
        kinds = sorted({o.question.kind for o in self.outcomes})
        lines = [
            "| kind | n | R@1 | R@3 | MRR | high | low | none | highlight |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for kind in kinds:
            group = [o for o in self.outcomes if o.question.kind == kind]
            mix = " | ".join(f"{self.share(c, group):.2f}" for c in CONFIDENCES)
            if not any(o.question.evidence for o in group):
                lines.append(f"| {kind} | {len(group)} | - | - | - | {mix} | - |")
                continue
            correct = [o for o in group if o.rank == 1]
            highlight = sum(o.highlight_has_answer for o in correct) / max(len(correct), 1)
            lines.append(
                f"| {kind} | {len(group)} | {self.recall(1, (kind,)):.2f} | {self.recall(3, (kind,)):.2f} "
                f"| {self.mrr((kind,)):.2f} | {mix} | {highlight:.2f} |"
            )
        answerable, unanswerable = self.answerable(), self.unanswerable()
        lines += [
            "",
            f"all answerable ({len(answerable)}): R@1 {self.recall(1):.3f}  R@3 {self.recall(3):.3f}  "
            f"MRR {self.mrr():.3f}",
            "answerable confidence: "
            + "  ".join(f"{c} {self.share(c, answerable):.3f}" for c in CONFIDENCES),
            f"unanswerable confidence ({len(unanswerable)}): "
            + "  ".join(f"{c} {self.share(c, unanswerable):.3f}" for c in CONFIDENCES),
            f"highlight contains the answer (correct top hits): {self.highlight_accuracy():.3f}",
            f"search latency over {len(self.outcomes)} questions: p50 {self.latency_ms(50):.1f} ms, "
            f"p95 {self.latency_ms(95):.1f} ms",
        ]
        misses = [o for o in answerable if o.rank != 1]
        if misses:
            lines.append("")
            lines.append("not at rank 1: " + ", ".join(f"{o.question.qid}({o.rank or '-'})" for o in misses))
        return "\n".join(lines)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Eval rows: `q`, `evidence` (or the older `a`), optional `id`, `kind`, `lang`, `context`."""
    questions = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        evidence = tuple(row.get("evidence", row.get("a", [])))
        questions.append(
            EvalQuestion(
                qid=str(row.get("id", f"q{number}")),
                kind=row.get("kind", "factoid" if evidence else UNANSWERABLE),
                lang=row.get("lang", "ru"),
                query=row["q"],
                evidence=evidence,
                context=row.get("context") or None,
                source=Path(path).stem,
            )
        )
    return questions


# Searched once before the timed questions: the first search of a process also fills the
# analyser's caches and starts the encoder's threads, which a serving bot does once.
WARM_UP_QUESTION = "Визит Алиева в Казахстан"


def evaluate(questions: list[EvalQuestion], search: SearchFn) -> Report:
    search(WARM_UP_QUESTION, None)
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        result = search(question.query, question.context)
        seconds = time.perf_counter() - started
        rank = next((i for i, h in enumerate(result.hits, 1) if question.answered_by(h.passage.text)), None)
        top_highlight = result.hits[0].highlight_text if result.hits else ""
        outcomes.append(
            Outcome(
                question,
                rank,
                result.confidence,
                bool(rank == 1 and question.answered_by(top_highlight)),
                seconds,
            )
        )
    return Report(outcomes)
