"""Quality with the real offline model on the vendored eval sets. These are regression
guards on the questions the calibration was fitted on (in-sample); the held-out figures
come from `python -m retrieval fit` (README, Quality)."""

import pytest

from retrieval.embedder import DEFAULT_MODEL, load_embedder
from retrieval.engine import open_retriever
from retrieval.evaluate import Report, evaluate, load_questions

from .conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, analyzer):
    retriever, _ = open_retriever(
        SEEDS, tmp_path_factory.mktemp("idx"), load_embedder(DEFAULT_MODEL), analyzer
    )
    return retriever


def report_on(retriever, name: str) -> Report:
    return evaluate(load_questions(DATA / name), lambda q, c: retriever.search(q, 10, context=c))


def test_public_style_questions(retriever) -> None:
    report = report_on(retriever, "questions.public.jsonl")
    assert report.recall(1) >= 0.85, report.render()
    assert report.recall(3) >= 0.95, report.render()
    assert report.abstained_answerable() <= 0.05, report.render()
    assert report.highlight_accuracy() >= 0.8, report.render()
    assert report.recall(3, ("crosslingual",)) >= 0.75, report.render()


def test_realistic_questions_with_follow_ups(retriever) -> None:
    report = report_on(retriever, "questions.realistic.jsonl")
    assert report.recall(1) >= 0.65, report.render()
    assert report.recall(3) >= 0.78, report.render()
    assert report.abstained_answerable() <= 0.05, report.render()
    assert report.share("high", report.unanswerable()) <= 0.5, report.render()


def test_off_topic_questions_get_none(retriever) -> None:
    report = report_on(retriever, "offtopic.jsonl")
    assert report.abstained_unanswerable() >= 0.9, report.render()
