import pytest

from bot.smalltalk import classify


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Привет", "greeting"),
        ("здравствуйте, бот!", "greeting"),
        ("Hi there 👋", "greeting"),
        ("Сәлеметсіз бе", "greeting"),
        ("Спасибо большое!", "thanks"),
        ("Təşəkkür edirəm", "thanks"),
        ("что ты умеешь?", "abilities"),
        ("What can you do?", "abilities"),
    ],
)
def test_small_talk_is_recognised(text: str, kind: str) -> None:
    assert classify(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "Привет, кто встретил Алиева?",
        "кто встречал алиева",
        "Спасибо Токаеву за что?",
        "Что такое Средний коридор?",
        "???",
    ],
)
def test_questions_are_not_small_talk(text: str) -> None:
    assert classify(text) is None
