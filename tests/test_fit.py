"""The cross-validated fit: held-out folds reported, choices from the grids, short highlights."""

import dataclasses

import numpy as np
import pytest

from retrieval import fit as fitting
from retrieval.engine import open_retriever
from retrieval.evaluate import EvalQuestion


@pytest.fixture
def retriever(seeds, tmp_path, embedder, analyzer):
    retriever, _ = open_retriever(seeds, tmp_path / "idx", embedder, analyzer)
    return retriever


def questions_from_corpus(retriever, count: int = 15) -> list[EvalQuestion]:
    """The first sentence of a two-sentence passage, answered by its second (the hash
    embedder matches words, so the passage comes first and the first sentence scores best),
    and a few questions no passage answers."""
    passages = [p for p in retriever.index.passages if len(p.sentences) == 2][:count]
    assert len(passages) == count
    answerable = [
        EvalQuestion(f"a{i}", "factoid", "ru", p.sentence_texts()[0], (p.sentence_texts()[1],))
        for i, p in enumerate(passages)
    ]
    unanswerable = [
        EvalQuestion(f"u{i}", "unanswerable", "ru", q, ())
        for i, q in enumerate(["рецепт борща", "погода в Лондоне", "курс биткоина", "чемпионат мира"])
    ]
    return answerable + unanswerable


def two_sentence_share(retriever, questions, calibration) -> float:
    variant = retriever.with_params(**calibration)
    two = []
    for q in questions:
        if q.evidence:
            top = variant.search(q.query, 1).hits[0]
            if q.answered_by(top.passage.text):
                two.append(len(top.highlight) > 1)
    return float(np.mean(two))


def test_fit_reports_held_out_folds_and_chooses_from_the_grids(retriever, monkeypatch) -> None:
    monkeypatch.setattr(fitting, "GRID", {"sentence": (0.0, 0.5), "bm25": (0.4, 1.6)})
    monkeypatch.setattr(fitting, "HIGHLIGHT_GRID", {"highlight_previous": (0.0, 0.5)})
    result = fitting.fit(retriever, questions_from_corpus(retriever))
    assert "held-out folds:" in result.report
    assert "| all answerable | 15 |" in result.report
    for name, values in {**fitting.GRID, **fitting.HIGHLIGHT_GRID}.items():
        assert result.calibration[name] in values
    assert result.calibration["none_below"] <= result.calibration["high_from"]


def test_highlight_fit_keeps_two_sentence_highlights_within_the_limit(retriever, monkeypatch) -> None:
    questions = questions_from_corpus(retriever)
    monkeypatch.setattr(fitting, "HIGHLIGHT_GRID", {"highlight_neighbour_margin": (0.0, 10.0)})
    combo = {name: values[0] for name, values in fitting.GRID.items()}
    vectors = fitting._encode(retriever, questions)
    folds = np.arange(len(questions)) % fitting.FOLDS
    # Bolding both sentences would hold every answer; the limit forbids it.
    monkeypatch.setattr(fitting, "MAX_TWO_SENTENCE_HIGHLIGHTS", 1.0)
    wide, _ = fitting._fit_highlight(retriever, combo, questions, vectors, folds)
    monkeypatch.setattr(fitting, "MAX_TWO_SENTENCE_HIGHLIGHTS", 0.2)
    narrow, _ = fitting._fit_highlight(retriever, combo, questions, vectors, folds)
    assert wide["highlight_neighbour_margin"] == 10.0
    assert narrow["highlight_neighbour_margin"] == 0.0
    assert two_sentence_share(retriever, questions, {**combo, **narrow}) <= 0.2


def test_fit_reports_each_files_held_out_rows_when_several_are_pooled(retriever, monkeypatch) -> None:
    monkeypatch.setattr(fitting, "GRID", {"bm25": (0.4, 1.6)})
    monkeypatch.setattr(fitting, "HIGHLIGHT_GRID", {"highlight_previous": (0.0,)})
    questions = questions_from_corpus(retriever)
    pooled = [
        dataclasses.replace(q, source="public" if i < 10 else "realistic") for i, q in enumerate(questions)
    ]
    report = fitting.fit(retriever, pooled).report
    assert "| file public | 10 |" in report
    assert "| file realistic | 9 |" in report  # five answerable and the four unanswerable
    assert "| file " not in fitting.fit(retriever, questions).report


def test_high_threshold_separates_what_the_answer_type_rule_leaves_open() -> None:
    def row(cosine: float, low_by_type: bool = False) -> fitting.Scored:
        return fitting.Scored(rank=None, best_cosine=cosine, low_by_type=low_by_type, language="ru")

    answerable = [row(c) for c in (0.80, 0.85, 0.90)]
    # two near-topic unanswerable questions the rule sends to `low` whatever their cosine,
    # and two it leaves to the threshold: those decide it, not the share the rule caught
    unanswerable = [row(0.95, True), row(0.95, True), row(0.84), row(0.88)]
    rows = answerable + unanswerable
    is_answerable = np.array([True] * 3 + [False] * 4)
    none_below, high_from = fitting._thresholds(rows, is_answerable, np.ones(len(rows), bool), {})
    assert none_below == pytest.approx(0.80 - 1e-4)
    assert high_from == pytest.approx(0.88 + 1e-4)  # at most 35% of the two open ones at `high`


def test_a_language_with_enough_questions_gets_its_own_shift() -> None:
    def rows(language: str, *cosines: float) -> list[fitting.Scored]:
        return [fitting.Scored(1, c, False, language) for c in cosines]

    scored = rows("ru", 0.88, 0.90, 0.92) + rows("en", 0.82, 0.84, 0.85, 0.86, 0.87) + rows("kk", 0.89, 0.91)
    shifts = fitting._language_shifts(scored, np.ones(len(scored), bool))
    assert shifts["en"] == pytest.approx(0.90 - 0.85)  # five English questions: their own
    # two Kazakh ones and no Azerbaijani: the shift of all seven non-Russian ones
    assert shifts["kk"] == shifts["az"] == pytest.approx(0.90 - 0.86)


def test_shift_only_questions_move_the_language_shifts_and_nothing_else(retriever, monkeypatch) -> None:
    monkeypatch.setattr(fitting, "GRID", {"sentence": (0.0, 1.0), "bm25": (0.4, 3.2)})
    monkeypatch.setattr(fitting, "HIGHLIGHT_GRID", {"highlight_previous": (0.0, 0.5)})
    questions = questions_from_corpus(retriever)
    # English questions: far from the Russian passages for the hash embedder, so they score low
    english = [
        EvalQuestion(f"x{i}", "crosslingual", "en", q, ("нет такого текста",), source="extra")
        for i, q in enumerate(
            [
                "Which ports will the cable link?",
                "How much did trade grow?",
                "Who met the president?",
                "What did the parties sign?",
                "Where was the summit held?",
                "When does the line open?",
            ]
        )
    ]
    seen: list[int] = []  # how many questions each weight choice and the highlight fit were shown
    objective, fit_highlight = fitting._objective, fitting._fit_highlight
    monkeypatch.setattr(fitting, "_objective", lambda rows: seen.append(len(rows)) or objective(rows))
    monkeypatch.setattr(
        fitting, "_fit_highlight", lambda r, c, qs, *a: seen.append(len(qs)) or fit_highlight(r, c, qs, *a)
    )
    alone = fitting.fit(retriever, questions)
    shown_alone, seen[:] = list(seen), []
    joined = fitting.fit(retriever, questions, shift_only=english)
    assert seen == shown_alone  # the extra questions never reach the weights or highlights
    assert joined.calibration["shift_en"] > alone.calibration["shift_en"] == 0.0
    unchanged = [name for name in alone.calibration if not name.startswith("shift_")]
    assert {n: joined.calibration[n] for n in unchanged} == {n: alone.calibration[n] for n in unchanged}
    assert "| file extra | 6 |" in joined.report

    def fold_lines(report: str) -> list[str]:  # each fold's weights and thresholds, without shifts
        return [line.split(" shifts")[0] for line in report.splitlines() if line.startswith("fold")]

    assert fold_lines(joined.report) == fold_lines(alone.report)
