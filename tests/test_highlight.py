import numpy as np
import pymorphy3
import pytest

from retrieval.answer_type import AnswerTypes
from retrieval.highlight import choose_highlight
from retrieval.text import sentence_spans


@pytest.fixture(scope="module")
def types() -> AnswerTypes:
    return AnswerTypes(pymorphy3.MorphAnalyzer())


def highlight(text: str, scores: list[float]) -> str:
    spans = tuple(sentence_spans(text))
    chosen = choose_highlight(spans, [text[a:b] for a, b in spans], np.asarray(scores))
    return " ".join(text[a:b] for a, b in chosen)


def test_best_sentence_alone_when_it_stands_alone() -> None:
    cable = "Подводный кабель по дну Каспийского моря соединит порты Актау и Алят."
    text = f"Первое предложение рассказывает о погоде в регионе. {cable} Третье предложение о другом."
    assert highlight(text, [0.1, 2.0, 0.2]) == cable


def test_short_fragment_takes_the_next_sentence() -> None:
    text = "Об этом сказал эксперт. Визит способен придать отношениям новый импульс и укрепить связи."
    assert "новый импульс" in highlight(text, [1.0, 0.2])


def test_lead_in_with_colon_takes_the_quote() -> None:
    text = "Президент Казахстана в своём выступлении подчеркнул следующее: «Мы братские народы». Далее."
    assert "братские" in highlight(text, [1.0, 0.5, 0.1])


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Сколько соглашений подписали?", {"number"}),
        ("скок тонн нефти", {"number"}),
        ("How many agreements were signed?", {"number"}),
        ("Neçə saziş imzalanıb?", {"number"}),
        ("Қанша келісім жасалды?", {"number"}),
        ("Когда прибыл Алиев?", {"date"}),
        ("When did Aliyev arrive?", {"date"}),
        ("Кто встретил Алиева?", {"person"}),
        ("Who met Aliyev?", {"person"}),
        ("Где прошла встреча?", {"place"}),
        ("Сколько стоит прокладка трубы?", {"number", "price"}),
        ("Во сколько обойдётся строительство порта?", {"number", "price"}),
        ("What will the new terminal cost?", {"price"}),
        ("Terminalın qiyməti nədir?", {"price"}),
        ("Кабель сколько будет стоить?", {"number", "price"}),
        ("Что стоит знать о визите?", set()),  # "worth", not a price
        ("Ақтау-Джейхан бағыты туралы не айтылды?", set()),  # a direction, not a price
        ("Tokayev vizitin nəticələrini necə dəyərləndirdi?", set()),  # "assessed"
        ("Что такое Средний коридор?", set()),
    ],
)
def test_asked_answer_types_in_four_languages(types: AnswerTypes, question: str, kinds: set) -> None:
    assert types.asked(question) == kinds


def test_missing_answer_type(types: AnswerTypes) -> None:
    assert types.missing("Сколько дней длился визит?", "Визит стал важным событием.") == {"number"}
    assert not types.missing("Сколько дней длился визит?", "Визит длился два дня.")
    assert types.missing("Когда откроют коридор?", "Коридор соединит страны.") == {"date"}
    assert not types.missing("Когда прибыл?", "Он прибыл 20 октября.")
    assert not types.missing("Кто встретил?", "В аэропорту его встретил Касым-Жомарт Токаев.")
    assert types.missing("Кто встретил?", "Встреча прошла в тёплой атмосфере.") == {"person"}
    # a price wants an amount of money, not any number
    assert types.missing("Сколько стоит кабель?", "Кабель длиной 380 км соединит порты.") == {"price"}
    assert not types.missing("Сколько стоит проект?", "Проект обойдётся в 50 миллионов долларов.")
    assert not types.missing("What does the fund cost?", "Фонд объёмом $300 млн.")
