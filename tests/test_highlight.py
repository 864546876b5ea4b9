import numpy as np

from retrieval.highlight import choose_highlight
from retrieval.text import sentence_spans


def highlight(text: str, scores: list[float], query: str) -> str:
    spans = tuple(sentence_spans(text))
    chosen = choose_highlight(spans, [text[a:b] for a, b in spans], np.asarray(scores), query)
    return " ".join(text[a:b] for a, b in chosen)


def test_best_sentence_alone_when_neighbours_score_low() -> None:
    cable = "Подводный кабель по дну Каспийского моря соединит порты Актау и Алят."
    text = f"Первое предложение рассказывает о погоде в регионе. {cable} Третье предложение о другом."
    assert highlight(text, [0.1, 2.0, 0.2], "кабель") == cable


def test_short_fragment_takes_the_next_sentence() -> None:
    text = "Об этом сказал эксперт. Визит способен придать отношениям новый импульс и укрепить связи."
    assert "новый импульс" in highlight(text, [1.0, 0.2], "Что сказал эксперт?")


def test_when_question_prefers_the_sentence_with_a_date() -> None:
    text = (
        "Подписан договор о строительстве линии связи через море. "
        "Завершение проекта запланировано на конец 2026 года."
    )
    assert "2026" in highlight(text, [2.0, 1.0], "Когда планируется завершить проект линии?")


def test_how_many_question_prefers_a_number() -> None:
    text = "Стороны обсудили торговлю между странами. Товарооборот составил 547 миллионов долларов за год."
    assert "547" in highlight(text, [2.0, 1.5], "Сколько составил товарооборот между странами?")


def test_lead_in_with_colon_brings_the_quote() -> None:
    text = "Президент процитировал поэта:\n\n«Тюрк не имеет права враждебно относиться к тюрку!»"
    assert "Тюрк не имеет права" in highlight(text, [3.0, 0.0], "Какие слова поэта привёл президент?")


def test_close_neighbour_is_included() -> None:
    text = (
        "Отдельного внимания заслуживает коридор между Европой и Азией. "
        "Его преимущества включают компактность географии."
    )
    out = highlight(text, [1.0, 0.9], "Какие преимущества у коридора?")
    assert "компактность" in out and "Отдельного" in out


def test_single_sentence_passage() -> None:
    assert highlight("Одно предложение.", [0.0], "вопрос") == "Одно предложение."
