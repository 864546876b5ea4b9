"""Fitting the fusion weights and confidence thresholds by k-fold cross-validation.

`python -m retrieval fit FILE.jsonl ...` pools the questions of the given eval files,
scores every weight combination of a small grid once, and for each fold picks the
combination that is best on the other folds (MRR, then R@1); it reports the held-out
folds' figures, so the printed quality is what unseen questions of these styles get.
Confidence thresholds are fitted the same way, from the top hit's cosine. The values
chosen on all questions are printed, and `--write` saves them as the model's calibration.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from retrieval.evaluate import EvalQuestion
from retrieval.search import Retriever, grade
from retrieval.text import OTHER_LANGUAGES, Language, question_language

GRID = {
    "sentence": (0.0, 0.5, 1.0),
    "previous": (0.0, 0.2, 0.4),
    "bm25": (0.4, 0.8, 1.6, 3.2),
    "sentence_bm25": (0.0, 0.25, 0.5, 1.0),
}
HIGHLIGHT_GRID = {
    "highlight_bm25": (0.0, 0.02, 0.05),
    "highlight_stems": (0.0, 0.02, 0.05, 0.1),
    "highlight_answer_type": (0.0, 0.02, 0.05),
    "highlight_previous": (0.0, 0.25, 0.5, 0.75),
    "highlight_lead": (0.0, 0.01, 0.02, 0.04),
    "highlight_neighbour_margin": (0.0, 0.01, 0.02, 0.03),
}
# A wider margin bolds two sentences more often, which holds the answer more often and reads
# worse on a phone: the highlight fit keeps to options that bold two sentences in at most
# this share of the training fold's correct top hits.
MAX_TWO_SENTENCE_HIGHLIGHTS = 0.2
FOLDS = 5
# A fold's `none` threshold keeps at most this share of its answerable questions at `none`,
# its `high` threshold at most MAX_UNANSWERABLE_HIGH of its unanswerable ones at `high`.
MAX_ANSWERABLE_NONE = 0.0
MAX_UNANSWERABLE_HIGH = 0.35
# A language's own shift needs this many answerable questions in it; fewer get the shift of
# all languages other than Russian together.
MIN_LANGUAGE_QUESTIONS = 5


Shifts = dict[str, float]  # language -> what is added to its questions' cosines


@dataclasses.dataclass(frozen=True)
class Scored:
    rank: int | None  # of the first answering passage in the top 10
    best_cosine: float
    low_by_type: bool  # the top passage lacks the asked-for answer type
    language: Language  # others than Russian get their `shift_<language>`

    def closeness(self, shifts: Shifts) -> float:
        return self.best_cosine + shifts.get(self.language, 0.0)


@dataclasses.dataclass(frozen=True)
class FitResult:
    report: str  # per fold choices and the held-out folds' table
    calibration: dict[str, float]  # chosen on all questions, for the model's calibration file


def fit(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    seed: int = 0,
    shift_only: Sequence[EvalQuestion] = (),
) -> FitResult:
    """The weights, thresholds and highlight bonuses, by folds. `shift_only` questions
    (written in the languages the eval sets hold few questions in) join the language shifts
    and the report, nothing else: not the weights or highlights, which they would tilt
    towards their style, nor the `none` and `high` lines; the other questions keep their
    folds."""
    ranked_count = len(questions)
    questions = [*questions, *shift_only]
    vectors = _encode(retriever, questions)
    combos = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    scored = [
        [_score(retriever, combo, q, v) for q, v in zip(questions, vectors, strict=True)] for combo in combos
    ]
    answerable = np.asarray([bool(q.evidence) for q in questions])
    eval_set = np.arange(len(questions)) < ranked_count
    folds = np.r_[
        np.random.default_rng(seed).permutation(ranked_count) % FOLDS,
        np.random.default_rng(seed).permutation(len(shift_only)) % FOLDS,
    ].astype(int)
    held: list[tuple[EvalQuestion, Scored, str]] = []
    lines = []
    for fold in range(FOLDS):
        train = (folds != fold) & answerable & eval_set
        best = max(
            range(len(combos)), key=lambda c: _objective([scored[c][i] for i in np.flatnonzero(train)])
        )
        rows = scored[best]
        shifts = _language_shifts(rows, answerable & (folds != fold))
        none_below, high_from = _thresholds(rows, answerable, (folds != fold) & eval_set, shifts)
        lines.append(
            f"fold {fold}: {combos[best]} none_below {none_below:.3f} high_from {high_from:.3f} shifts "
            + " ".join(f"{lang} {shifts[lang]:.3f}" for lang in OTHER_LANGUAGES)
        )
        for i in np.flatnonzero(folds == fold):
            held.append((questions[i], rows[i], _confidence(rows[i], none_below, high_from, shifts)))
    lines += ["", "held-out folds:", *_table(held)]
    best = max(
        range(len(combos)),
        key=lambda c: _objective([scored[c][i] for i in np.flatnonzero(answerable & eval_set)]),
    )
    shifts = _language_shifts(scored[best], answerable)
    none_below, high_from = _thresholds(scored[best], answerable, eval_set, shifts)
    highlight, highlight_lines = _fit_highlight(
        retriever, combos[best], questions[:ranked_count], vectors[:ranked_count], folds[:ranked_count]
    )
    lines += ["", *highlight_lines]
    calibration = {
        **combos[best],
        "none_below": round(none_below, 4),
        "high_from": round(high_from, 4),
        **{f"shift_{lang}": round(shifts[lang], 4) for lang in OTHER_LANGUAGES},
        **highlight,
    }
    lines += ["", f"chosen on all questions: {calibration}"]
    return FitResult("\n".join(lines), calibration)


def _encode(retriever: Retriever, questions: Sequence[EvalQuestion]) -> np.ndarray:
    texts = [f"{q.context} {q.query}" if q.context else q.query for q in questions]
    return retriever.embedder.encode_queries(texts)


def _score(retriever: Retriever, combo: dict, question: EvalQuestion, vector: np.ndarray) -> Scored:
    variant = retriever.with_params(**combo)
    ranking = variant.rank(question.query, vector, 10, question.context)
    texts = [retriever.index.passages[row].text for row in ranking.rows]
    rank = next((i for i, text in enumerate(texts, 1) if question.answered_by(text)), None)
    lacks_type = variant.lacks_answer_type(question.query, ranking)
    return Scored(rank, ranking.best_cosine, lacks_type, question_language(question.query))


def _fit_highlight(
    retriever: Retriever,
    combo: dict,
    questions: Sequence[EvalQuestion],
    vectors: np.ndarray,
    folds: np.ndarray,
) -> tuple[dict, list[str]]:
    """Highlight bonuses by the same folds: the share of correct top hits whose highlight
    holds the evidence, among options within MAX_TWO_SENTENCE_HIGHLIGHTS."""
    options = [dict(zip(HIGHLIGHT_GRID, v, strict=True)) for v in itertools.product(*HIGHLIGHT_GRID.values())]
    hit = np.full((len(options), len(questions)), np.nan)
    two = np.full((len(options), len(questions)), np.nan)
    ranked = retriever.with_params(**combo)
    # as `Retriever.search` does, a follow-up's highlight goes by the question alone
    follow_ups = [i for i, q in enumerate(questions) if q.context]
    alone = {}
    if follow_ups:
        encoded = retriever.embedder.encode_queries([questions[i].query for i in follow_ups])
        alone = dict(zip(follow_ups, encoded, strict=True))
    tops = {}  # the questions whose top passage answers: only its highlight changes with the option
    for i, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
        if question.evidence:
            ranking = ranked.rank(question.query, vector, 1, question.context, alone.get(i))
            if question.answered_by(retriever.index.passages[ranking.rows[0]].text):
                tops[i] = (question, ranking)
    for o, option in enumerate(options):
        variant = ranked.with_params(**option)
        for i, (question, ranking) in tops.items():
            top = variant.hits(question.query, ranking)[0]
            hit[o, i] = question.answered_by(top.highlight_text)
            two[o, i] = len(top.highlight) > 1

    def best_on(columns: np.ndarray) -> int:
        accuracy = np.nanmean(hit[:, columns], axis=1)
        two_share = np.nanmean(two[:, columns], axis=1)
        # when no option is short enough (lead-ins always take their next sentence): the shortest
        return int(np.argmax(np.where(two_share <= MAX_TWO_SENTENCE_HIGHLIGHTS, accuracy, -1 - two_share)))

    held, held_two = [], []
    for fold in range(FOLDS):
        best = best_on(folds != fold)
        test = folds == fold
        held += [v for v in hit[best, test] if not np.isnan(v)]
        held_two += [v for v in two[best, test] if not np.isnan(v)]
    best = best_on(np.ones(len(questions), bool))
    return options[best], [
        f"highlight holds the answer (held-out folds, correct top hits): {np.mean(held):.3f};"
        f" two sentences bold in {np.mean(held_two):.2f} of them"
    ]


def _objective(rows: list[Scored]) -> tuple[float, float]:
    mrr = float(np.mean([1 / r.rank if r.rank else 0.0 for r in rows]))
    return mrr, float(np.mean([r.rank == 1 for r in rows]))


def _language_shifts(rows: list[Scored], answerable: np.ndarray) -> Shifts:
    """How much lower each language's answerable questions score than the Russian ones: the
    difference of the groups' median cosines (a median, since the groups are small), never
    negative; a language with fewer than MIN_LANGUAGE_QUESTIONS gets that of all the
    languages other than Russian together."""
    cosines: dict[str, list[float]] = defaultdict(list)
    for i in np.flatnonzero(answerable):
        cosines[rows[i].language].append(rows[i].best_cosine)
    russian = cosines.pop("ru", [])
    if not russian or not cosines:
        return dict.fromkeys(OTHER_LANGUAGES, 0.0)

    def gap(values: list[float]) -> float:
        return max(0.0, float(np.median(russian) - np.median(values)))

    pooled = gap([c for values in cosines.values() for c in values])
    return {
        lang: gap(cosines[lang]) if len(cosines[lang]) >= MIN_LANGUAGE_QUESTIONS else pooled
        for lang in OTHER_LANGUAGES
    }


def _thresholds(
    rows: list[Scored], answerable: np.ndarray, train: np.ndarray, shifts: Shifts
) -> tuple[float, float]:
    """`none` below the closeness (cosine, shifted for other languages) that keeps
    MAX_ANSWERABLE_NONE of the answerable questions above it; `high` from the lowest at
    which at most MAX_UNANSWERABLE_HIGH of the near-topic unanswerable questions (those
    above the `none` line) that the answer-type rule leaves open would be `high`: the
    cosine has to separate what the rule cannot, however many the rule already catches."""
    positive = sorted(rows[i].closeness(shifts) for i in np.flatnonzero(train & answerable))
    none_below = positive[int(MAX_ANSWERABLE_NONE * len(positive))] - 1e-4 if positive else 0.0
    near = [
        rows[i]
        for i in np.flatnonzero(train & ~answerable)
        if rows[i].closeness(shifts) >= none_below and not rows[i].low_by_type
    ]
    for high_from in sorted({none_below, *(r.closeness(shifts) + 1e-4 for r in near)}):
        high = [r.closeness(shifts) >= high_from for r in near]
        if not near or np.mean(high) <= MAX_UNANSWERABLE_HIGH:
            return none_below, high_from
    return none_below, 1.0


def _confidence(row: Scored, none_below: float, high_from: float, shifts: Shifts) -> str:
    return grade(row.closeness(shifts), row.low_by_type, none_below, high_from)


def _table(held: list[tuple[EvalQuestion, Scored, str]]) -> list[str]:
    by_kind: dict[str, list[tuple[EvalQuestion, Scored, str]]] = defaultdict(list)
    for item in held:
        by_kind[item[0].kind].append(item)
    lines = ["| kind | n | R@1 | R@3 | high | low | none |", "| --- | --- | --- | --- | --- | --- | --- |"]
    by_source: dict[str, list[tuple[EvalQuestion, Scored, str]]] = defaultdict(list)
    for item in held:
        by_source[item[0].source].append(item)
    groups = [*sorted(by_kind.items()), ("all answerable", [h for h in held if h[0].evidence])]
    if len(by_source) > 1:  # each file's own style: its questions of every kind
        groups += [(f"file {source}", items) for source, items in sorted(by_source.items())]
    for kind, items in groups:
        ranks = [s.rank for q, s, _ in items if q.evidence]
        mix = " | ".join(f"{np.mean([c == want for *_, c in items]):.2f}" for want in ("high", "low", "none"))
        if ranks:
            r1 = np.mean([r == 1 for r in ranks])
            r3 = np.mean([r is not None and r <= 3 for r in ranks])
            lines.append(f"| {kind} | {len(items)} | {r1:.2f} | {r3:.2f} | {mix} |")
        else:
            lines.append(f"| {kind} | {len(items)} | - | - | {mix} |")
    return lines
