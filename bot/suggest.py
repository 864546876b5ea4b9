"""Topics to suggest when the articles do not answer: named things the nearest passages talk
about ("Средний коридор", "Организация тюркских государств", "SOCAR"), in the nominative so
they read as a button and search well as a question. Never what was just asked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import pymorphy3

LIMIT = 3
NEAREST = 5  # passages looked at, best first
MAX_ADJECTIVES = 3
MAX_GENITIVES = 2
_TOKEN = re.compile(r"[A-Za-zА-Яа-яЁё][\w-]*")
_ACRONYM = re.compile(r"^(?:[A-ZА-ЯЁ]{3,}|[A-ZА-ЯЁ][a-zа-яё]+[A-ZА-ЯЁ]\w*)$")  # SOCAR, ОТГ, КазМунайГаз
_PEOPLE_AND_PLACES = {"Name", "Surn", "Patr", "Geox"}
_SENTENCE_BREAK = re.compile(r"[.!?…:;«»\"()]\s*$")


@functools.cache
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """Words with two flags: does a sentence (or a quote) start right before it, and is it
    joined to the word before by nothing but a space."""
    out: list[tuple[str, bool, bool]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        gap = text[last : match.start()]
        starts = not out or bool(_SENTENCE_BREAK.search(gap)) or "\n" in gap
        out.append((match.group(), starts, bool(out) and not gap.strip()))
        last = match.end()
    return out


def _adjective_phrase(words: list[str]) -> str | None:
    """Capitalised adjective(s) and the noun they agree with, in the nominative."""
    noun_word = words[-1]
    for noun in _parse(noun_word):
        if noun.tag.POS != "NOUN" or noun.tag.case is None:
            continue
        grammemes = {"nomn", noun.tag.number or "sing"}
        if noun.tag.number == "sing" and noun.tag.gender:
            grammemes.add(noun.tag.gender)
        adjectives = []
        for word in words[:-1]:
            agreeing = [
                p
                for p in _parse(word)
                if p.tag.POS == "ADJF" and p.tag.case == noun.tag.case and p.tag.number == noun.tag.number
            ]
            inflected = agreeing[0].inflect(grammemes) if agreeing else None
            if inflected is None or not _same_stem(word, inflected.word):
                break
            adjectives.append(inflected.word)
        else:
            head = noun.inflect({"nomn", noun.tag.number or "sing"})
            if head is None:
                continue
            phrase = " ".join([*adjectives, head.word])
            return phrase[0].upper() + phrase[1:]
    return None


def _same_stem(word: str, inflected: str) -> bool:
    """Only the ending changed: "Высшего" -> "высочайший" shares a paradigm, not a stem."""
    stem = min(len(word), len(inflected)) - 3
    return word.lower()[:stem] == inflected.lower()[:stem]


def _genitive_phrase(head: str, followers: list[str]) -> str | None:
    """ "Организации тюркских государств" -> "Организация тюркских государств"."""
    nouns = [p for p in _parse(head) if p.tag.POS == "NOUN" and not _PEOPLE_AND_PLACES & p.tag.grammemes]
    tail: list[str] = []
    for word in followers[: MAX_GENITIVES + 1]:
        parses = [p for p in _parse(word) if p.tag.POS in ("NOUN", "ADJF")]
        if len(word) < 3 or not any(p.tag.case == "gent" for p in parses):
            break
        tail.append(word)
        if any(p.tag.POS == "NOUN" and p.tag.case == "gent" for p in parses):
            break
    if not nouns or not tail:
        return None
    nominative = nouns[0].inflect({"nomn", nouns[0].tag.number or "sing"})
    if nominative is None:
        return None
    word = nominative.word
    return " ".join([word[0].upper() + word[1:], *tail])


# The same passages come up again and again near unanswered questions, and their analysis
# (pymorphy3, word by word) costs several searches: each passage's phrases are kept.
@functools.lru_cache(maxsize=4096)
def candidates(text: str) -> tuple[str, ...]:
    """Topic phrases of one passage, in order of appearance."""
    tokens = _tokens(text)
    found: list[str] = []
    for i, (word, starts, _) in enumerate(tokens):
        if starts or not word[0].isupper():
            continue
        if _ACRONYM.match(word):
            if not _PEOPLE_AND_PLACES & _lemma_tags(word):
                found.append(word)
            continue
        if not "А" <= word[0] <= "Я" and word[0] != "Ё":
            continue
        lower: list[str] = []
        for follower, _, joined in tokens[i + 1 : i + 2 + MAX_ADJECTIVES]:
            if not joined or not follower[0].islower():
                break
            lower.append(follower)
        phrase = None
        for size in range(min(len(lower), MAX_ADJECTIVES), 0, -1):
            phrase = _adjective_phrase([word, *lower[:size]])
            if phrase:
                break
        if phrase is None and lower:
            phrase = _genitive_phrase(word, lower)
        if phrase:
            found.append(phrase)
    return tuple(found)


def _lemmas(text: str) -> set[str]:
    return {_lemma(w.lower()) for w in _TOKEN.findall(text) if len(w) > 2}


@functools.lru_cache(maxsize=16384)
def _lemma(word: str) -> str:
    parses = _parse(word)
    return parses[0].normal_form if parses else word


def _lemma_tags(word: str) -> frozenset:
    parses = _parse(word)
    return frozenset(parses[0].tag.grammemes) if parses else frozenset()


def _parse(word: str) -> list:
    try:
        return _morph().parse(word)
    except (KeyError, ValueError):  # pymorphy3 fails on some rare Unicode letters
        return []


def topics(passages: Sequence[str], asked: str, limit: int = LIMIT) -> tuple[str, ...]:
    """The topics the nearest passages (best first) name most, minus what was asked."""
    asked_lemmas = _lemmas(asked)
    scores: dict[str, float] = {}
    shown: dict[str, str] = {}
    for rank, text in enumerate(passages[:NEAREST]):
        for phrase in candidates(text):
            key = phrase.lower()
            if _lemmas(phrase) <= asked_lemmas:
                continue
            scores[key] = scores.get(key, 0.0) + 1.0 / (rank + 1)
            shown.setdefault(key, phrase)
    best = sorted(scores, key=lambda k: -scores[k])  # stable: first seen wins a tie
    return tuple(shown[k] for k in best[:limit])
