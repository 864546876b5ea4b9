"""Speakers named from the passage and the one before, the attribution styles of news texts."""

import pytest

from retrieval.attribution import passage_speakers, speaker
from retrieval.corpus import Passage
from retrieval.text import sentence_spans


def span_of(text: str, sentence: str) -> tuple[int, int]:
    start = text.index(sentence)
    return start, start + len(sentence)


@pytest.mark.parametrize(
    ("text", "sentence", "previous", "expected"),
    [
        (
            "«Он создаст новый маршрут», - сказал Рустем Бектрумов.",
            "«Он создаст новый маршрут»",
            None,
            "Рустем Бектрумов",
        ),
        (
            "Косбаева отметила, что отношения на пике.",
            "Косбаева отметила, что отношения на пике.",
            None,
            "Косбаева",
        ),
        (
            "По словам Ишмухамедова, стороны обсуждали инвестиции.",
            "стороны обсуждали инвестиции.",
            None,
            "по словам Ишмухамедова",
        ),
        (  # the name comes after an apposition, not before the first comma
            "По мнению депутата Милли Меджлиса, члена межпарламентской рабочей группы Айдына "
            "Гусейнова, визит можно считать историческим. Это важно.",
            "Это важно.",
            None,
            "по мнению депутата Милли Меджлиса Айдына Гусейнова",
        ),
        (  # a main clause that happens to end in a name is no apposition
            "По мнению Гусейнова, визит важен для Ильхама Алиева, и это главное.",
            "По мнению Гусейнова, визит важен для Ильхама Алиева, и это главное.",
            None,
            "по мнению Гусейнова",
        ),
        (
            "Он отметил, что визит важен.",
            "Он отметил, что визит важен.",
            "Руслан Тусупбеков отметил, что визит важен.",
            "Руслан Тусупбеков",
        ),
        (
            "По ее словам, маршрут укрепит позиции.",
            "маршрут укрепит позиции.",
            "Об этом сказала Trend эксперт Института Казахстана Амина Косбаева.",
            "Амина Косбаева",
        ),
        (
            "«Это уникальный случай», — отметил он.",
            "«Это уникальный случай»",
            "Эксперт Шарип Ишмухамедов прокомментировал визит.",
            "Шарип Ишмухамедов",
        ),
        (
            "«Наши страны — партнёры. Мы видим перспективы.",
            "Мы видим перспективы.",
            "Гусейнов отметил, что страны связаны.",
            "Гусейнов",
        ),
    ],
)
def test_speaker_styles(text: str, sentence: str, previous: str | None, expected: str) -> None:
    assert speaker(text, span_of(text, sentence), previous) == expected


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("Товарооборот составил 547 миллионов долларов.", "Косбаева отметила, что отношения на пике."),
        ("Он отметил, что визит важен.", None),  # a pronoun with nobody named before
        ("Как отметил господин Президент: рост продолжится.", None),
        ("Казахстан и Азербайджан выстроили партнёрство.", None),
    ],
)
def test_nobody_is_named_when_unsure(text: str, previous: str | None) -> None:
    assert speaker(text, (0, len(text)), previous) is None


def _passages(article_id: str, *texts: str) -> list[Passage]:
    return [
        Passage(f"{article_id}:{i}", article_id, i, text, tuple(sentence_spans(text)))
        for i, text in enumerate(texts)
    ]


def test_passage_speakers_follow_an_introduction_and_fall_back_to_the_author() -> None:
    interview = _passages(
        "a",
        "Своими мыслями поделился эксперт Института, политолог Рустем Бектрумов.",
        "«Маршрут укрепит позиции обеих стран».",
        "Товарооборот составил 547 миллионов долларов.",
    )
    column = _passages("b", "Баку и Астана поддерживают суверенитет друг друга.")
    found = passage_speakers(
        interview + column, {"a": None, "b": "Кенуль Нуруллаева, депутат Милли Меджлиса"}
    )
    assert found == [("Рустем Бектрумов",), ("Рустем Бектрумов",), (), ("Кенуль Нуруллаева",)]


def test_a_speaker_is_not_carried_into_the_next_article() -> None:
    found = passage_speakers(
        [*_passages("a", "Косбаева отметила, что отношения на пике."), *_passages("b", "«Это новый этап».")],
        {},
    )
    assert found == [("Косбаева",), ()]
