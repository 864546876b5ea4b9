"""Quality report on an eval file: recall, abstention and highlight accuracy per question kind."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.search import SearchResult
from retrieval.text import normalise_for_match

RANKED_KINDS = ("factoid", "who", "paraphrase")


@dataclass(frozen=True)
class EvalQuestion:
    qid: str
    kind: str
    lang: str
    query: str
    evidence: tuple[str, ...]

    def answered_by(self, text: str) -> bool:
        body = normalise_for_match(text)
        return any(normalise_for_match(e) in body for e in self.evidence)


@dataclass(frozen=True)
class Outcome:
    question: EvalQuestion
    rank: int | None  # 1-based rank of the first answering passage within k, None if absent
    abstained: bool
    highlight_has_answer: bool


@dataclass(frozen=True)
class Report:
    outcomes: list[Outcome]

    def _ranked(self, kinds: tuple[str, ...]) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.kind in kinds and o.question.evidence]

    def recall(self, at: int, kinds: tuple[str, ...] = RANKED_KINDS) -> float:
        ranked = self._ranked(kinds)
        return sum(o.rank is not None and o.rank <= at for o in ranked) / max(len(ranked), 1)

    def mrr(self, kinds: tuple[str, ...] = RANKED_KINDS) -> float:
        ranked = self._ranked(kinds)
        return sum(1 / o.rank for o in ranked if o.rank) / max(len(ranked), 1)

    def abstained_answerable(self) -> float:
        answerable = [o for o in self.outcomes if o.question.evidence]
        return sum(o.abstained for o in answerable) / max(len(answerable), 1)

    def abstained_unanswerable(self) -> float:
        off_topic = [o for o in self.outcomes if not o.question.evidence]
        return sum(o.abstained for o in off_topic) / max(len(off_topic), 1)

    def highlight_accuracy(self) -> float:
        correct_top = [o for o in self.outcomes if o.rank == 1]
        return sum(o.highlight_has_answer for o in correct_top) / max(len(correct_top), 1)

    def render(self) -> str:
        kinds = sorted({o.question.kind for o in self.outcomes})
        lines = ["| kind | n | R@1 | R@3 | MRR | abstained |", "| --- | --- | --- | --- | --- | --- |"]
        for kind in kinds:
            group = [o for o in self.outcomes if o.question.kind == kind]
            abstained = sum(o.abstained for o in group) / len(group)
            if kind == "unanswerable":
                lines.append(f"| {kind} | {len(group)} | - | - | - | {abstained:.2f} |")
                continue
            lines.append(
                f"| {kind} | {len(group)} | {self.recall(1, (kind,)):.2f} | {self.recall(3, (kind,)):.2f} "
                f"| {self.mrr((kind,)):.2f} | {abstained:.2f} |"
            )
        lines += [
            "",
            f"factoid+who+paraphrase: R@1 {self.recall(1):.3f}  R@3 {self.recall(3):.3f}  "
            f"MRR {self.mrr():.3f}",
            f"answerable abstained: {self.abstained_answerable():.3f}   "
            f"unanswerable abstained: {self.abstained_unanswerable():.3f}",
            f"highlight contains the answer (correct top hits): {self.highlight_accuracy():.3f}",
        ]
        misses = [o for o in self.outcomes if o.question.evidence and o.rank != 1]
        if misses:
            lines.append("")
            lines.append("not at rank 1: " + ", ".join(f"{o.question.qid}({o.rank or '-'})" for o in misses))
        return "\n".join(lines)


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        questions.append(
            EvalQuestion(
                qid=str(row.get("id", f"q{number}")),
                kind=row.get("kind", "factoid" if row.get("evidence", row.get("a")) else "unanswerable"),
                lang=row.get("lang", "ru"),
                query=row["q"],
                evidence=tuple(row.get("evidence", row.get("a", []))),
            )
        )
    return questions


def evaluate(questions: list[EvalQuestion], search: Callable[[str], SearchResult]) -> Report:
    outcomes = []
    for question in questions:
        result = search(question.query)
        rank = next((i for i, h in enumerate(result.hits, 1) if question.answered_by(h.passage.text)), None)
        top_highlight = result.hits[0].highlight_text if result.hits else ""
        outcomes.append(
            Outcome(question, rank, result.abstained, bool(rank == 1 and question.answered_by(top_highlight)))
        )
    return Report(outcomes)
