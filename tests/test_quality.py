"""Quality on the public eval set with the real offline model (the acceptance bar of issue 3)."""

import pytest

from retrieval.embedder import DEFAULT_MODEL, load_embedder
from retrieval.engine import open_retriever
from retrieval.evaluate import evaluate, load_questions

from .conftest import PUBLIC_EVAL, SEEDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory, analyzer):
    retriever, _ = open_retriever(
        SEEDS, tmp_path_factory.mktemp("idx"), load_embedder(DEFAULT_MODEL), analyzer
    )
    return evaluate(load_questions(PUBLIC_EVAL), lambda q, c: retriever.search(q, 10, context=c))


def test_recall_meets_the_bar(report) -> None:
    assert report.recall(1) >= 0.87, report.render()
    assert report.recall(3) >= 0.93, report.render()


def test_off_topic_questions_abstain(report) -> None:
    assert report.abstained_unanswerable() == 1.0, report.render()
    assert report.abstained_answerable() <= 0.05, report.render()


def test_highlights_carry_the_answer(report) -> None:
    assert report.highlight_accuracy() >= 0.8, report.render()


def test_english_questions_find_russian_passages(report) -> None:
    assert report.recall(3, ("crosslingual",)) >= 0.75, report.render()
