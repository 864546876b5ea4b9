"""Deep-link payloads: within Telegram's 64 characters of [A-Za-z0-9_-], and back."""

import re

from hypothesis import given
from hypothesis import strategies as st

from bot import deeplink

ALLOWED = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_russian_questions_travel_in_one_byte_a_letter() -> None:
    question = "Какие порты соединит кабель по дну Каспия?"
    payload = deeplink.question_payload(question)
    assert payload is not None and payload.startswith("w") and ALLOWED.match(payload)
    assert deeplink.parse(payload) == deeplink.Question(question)
    kazakh = "Орта дәліз дегеніміз не?"
    assert deeplink.parse(deeplink.question_payload(kazakh)) == deeplink.Question(kazakh)


def test_a_longer_russian_question_travels_lowercased_one_character_a_letter() -> None:
    question = "Какие порты соединит кабель по дну Каспия, «Актау» и Алят?"
    payload = deeplink.question_payload(question)
    assert payload.startswith("r") and ALLOWED.match(payload)
    assert deeplink.parse(payload) == deeplink.Question(
        "какие порты соединит кабель по дну каспия, актау и алят?"
    )


def test_too_long_a_question_has_no_payload_but_its_passage_does() -> None:
    assert deeplink.question_payload("очень длинный вопрос " * 10) is None
    assert deeplink.question_payload("What is the Middle Corridor and who uses it for transit today?") is None
    payload = deeplink.passage_payload("002_950893789275b63c:1a2b3c4d5e", 3)
    assert ALLOWED.match(payload)
    assert deeplink.parse(payload) == deeplink.PassageLink("002_950893789275b63c:1a2b3c4d5e", 3)


def test_share_url_is_telegrams_dialog() -> None:
    link = deeplink.start_link("visit_bot", "wABC")
    assert link == "https://t.me/visit_bot?start=wABC"
    assert deeplink.share_url(link, "Ответ & ссылка").startswith(
        "https://t.me/share/url?url=https%3A%2F%2Ft.me"
    )


@given(st.text(max_size=80))
def test_any_payload_parses_or_is_refused(payload: str) -> None:
    parsed = deeplink.parse(payload)
    assert parsed is None or isinstance(parsed, deeplink.Question | deeplink.PassageLink)


@given(st.text(min_size=1, max_size=60).filter(str.strip))
def test_every_encodable_question_round_trips(question: str) -> None:
    payload = deeplink.question_payload(question)
    if payload is not None:
        assert ALLOWED.match(payload)
        parsed = deeplink.parse(payload)
        exact = " ".join(question.split())
        assert parsed == deeplink.Question(exact) or (
            payload[0] == "r" and parsed.text in exact.lower().replace("ё", "е")
        )
