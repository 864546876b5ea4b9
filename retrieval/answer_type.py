"""What kind of answer a question asks for (a number, date, person, place), in the four
languages users write, and whether a text holds an answer of that kind."""

from __future__ import annotations

import functools
import re
from typing import Literal

import pymorphy3

AnswerType = Literal["number", "date", "person", "place", "price"]

# Question words by answer type: Russian (with colloquial spellings), English, Azerbaijani, Kazakh.
_ASKS: dict[AnswerType, re.Pattern[str]] = {
    "number": re.compile(
        r"\b(сколько|скольк|скок[аои]?|во сколько|какова сумма|каков[аоы]? (объ[её]м|размер|доля)"
        r"|how (much|many)|what (share|percentage|amount)|neçə|nə qədər|қанша|неше)\b",
        re.IGNORECASE,
    ),
    "date": re.compile(
        r"\b(когда|в каком году|какого числа|к какому (сроку|году)|when|what year|which year"
        r"|nə vaxt|nə zaman|hansı il|қашан|қай жылы)\b",
        re.IGNORECASE,
    ),
    "person": re.compile(r"\b(кто|кого|кому|кем|who|whom|kim|kimi|кім)\b", re.IGNORECASE),
    "place": re.compile(
        r"\b(где|куда|откуда|в каком городе|where|harada|hara|haradan|қайда)\b", re.IGNORECASE
    ),
    # a cost, price or sum spent: a bare number does not answer it, an amount of money does
    "price": re.compile(
        # "стоит" alone also means "is worth doing", "dəyər" "value", "бағыт" is a direction
        r"\b(сколько\s+(\w+\s+)?стои[тл]|стоимост|во сколько обо|цен[аыуе]\b|по какой цене|тариф"
        r"|сколько (денег|средств)|потратил|потратят|затрат|cost(s|ed)?\b|price|spen[dt]\b|tariff"
        r"|how much money|qiymət|dəyəri\b|xərc|бағасы|баға\b|құны\b|шығын|қанша тұрады)",
        re.IGNORECASE,
    ),
}
_MONTHS = "январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр"
_NUMBER_WORDS = (
    "один|одна|два|две|три|четыре|пять|шесть|семь|восемь|девять|десять|двадцать|тридцать|сто"
    "|двести|тысяч|миллион|миллиард|трлн|млрд|млн|вдвое|втрое|дважды|трижды|половин|процент"
)
_HAS: dict[AnswerType, re.Pattern[str]] = {
    "number": re.compile(rf"\d|\b({_NUMBER_WORDS})", re.IGNORECASE),
    "price": re.compile(
        r"(\d|\b(миллион|миллиард|тысяч|млн|млрд|трлн))[^.!?]{0,30}?(доллар|евро\b|рубл|тенге|манат|USD|EUR)"
        r"|[$€₸₼]\s?\d",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b(1[89]|20)\d\d\b|\b({_MONTHS})\w*|\bнакануне\b|\b(вчера|сегодня|завтра)\b|\b\d+ (лет|год)",
        re.IGNORECASE,
    ),
}
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[А-ЯЁ][а-яё]{2,}")


class AnswerTypes:
    """Asked-for answer types of a question, and the types a passage can answer."""

    def __init__(self, morph: pymorphy3.MorphAnalyzer) -> None:
        self._morph = morph
        # the highlight asks this of every sentence of every hit, the same sentences again and
        # again; names are looked up word by word with pymorphy3
        self._holds = functools.lru_cache(maxsize=65536)(self._find)

    @staticmethod
    def asked(question: str) -> set[AnswerType]:
        return {kind for kind, pattern in _ASKS.items() if pattern.search(question)}

    def holds(self, kind: AnswerType, text: str) -> bool:
        return self._holds(kind, text)

    def _find(self, kind: AnswerType, text: str) -> bool:
        if kind in _HAS:
            return bool(_HAS[kind].search(text))
        wanted = {"person": {"Surn", "Name", "Patr"}, "place": {"Geox"}}[kind]
        return any(
            wanted & set(self._morph.parse(word.lower())[0].tag.grammemes)
            or (kind == "person" and not self._morph.word_is_known(word.lower()))
            for word in _CAPITALISED.findall(text)
        )

    def missing(self, question: str, text: str) -> set[AnswerType]:
        """Answer types the question asks for that the text does not hold."""
        return {kind for kind in self.asked(question) if not self.holds(kind, text)}
