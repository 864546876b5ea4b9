"""Russian text handling: cleaning, sentence spans and the terms that lexical search matches on."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Literal

import pymorphy3
from razdel import sentenize
from razdel import tokenize as razdel_tokenize

# Invisible characters that break matching but carry no meaning for a reader.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w", re.UNICODE)
_SENTENCE_END = frozenset(".!?…")
_CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
_LATIN = re.compile("[a-z]", re.IGNORECASE)

# Russian-style surnames decline (Токаев, Токаева, Токаеву); the dictionary often misreads
# them ("Токаев" -> "токай", "токаева" -> a first name), so they are cut back to their base
# by rule: a capitalised word inside a sentence, and any word the dictionary does not know
# as a common noun (users type names in lower case). A sentence-initial known common noun
# keeps its lemma ("Городов" -> "город").
_SURNAME = re.compile(r"^(.{2,}(?:ов|ев|ёв|ин|ын))(?:а|у|ым|ом|е|ой|ы|ых|ыми)?$")

# Bump when a rule changes in code that the fingerprint below cannot see.
ANALYZER_VERSION = 3

# Question words, pronouns and function words: matching them says nothing about relevance.
_STOP_WORDS_TEXT = """
    а без более бы был быть в вам вас ведь весь во вот все всегда всего всех вы где да даже
    для до его ее ей ему если есть еще же за здесь и из или им их к каков какой как когда
    кто куда ли либо между меня мне может мой мы на над надо наш не него нее нет ни них но
    ну о об однако он она они оно от очень по под при про с сам свой себя со так также там
    те тем то тогда того тоже только том тот ту тут у уже хотя чего чей чем что чтобы чья
    эта эти это этот я зачем откуда почему сколько который такой иметь мочь являться
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# Numerals in words match the digits articles use ("пять плюс один" vs "5+1").
_NUMERALS = {
    "ноль": "0",
    "один": "1",
    "два": "2",
    "три": "3",
    "четыре": "4",
    "пять": "5",
    "шесть": "6",
    "семь": "7",
    "восемь": "8",
    "девять": "9",
    "десять": "10",
    "двадцать": "20",
    "сто": "100",
}


def clean_text(text: str) -> str:
    """Drop invisible and control characters and unify line ends; visible text is untouched."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    return _CONTROL.sub("", text)


def normalise_for_match(text: str) -> str:
    """Fold case, ё/е, quotes, dashes and whitespace, so evidence strings compare fairly."""
    text = unicodedata.normalize("NFC", text).lower().replace("ё", "е")
    text = re.sub("[«»\"“”„‟'‘’`]", '"', text)
    text = re.sub("[‐‑‒–—―−-]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of a paragraph, covering only non-blank text."""
    spans = []
    for line in re.finditer(r"[^\n]+", text):
        offset = line.start()
        spans += [(offset + s.start, offset + s.stop) for s in sentenize(line.group()) if s.text.strip()]
    return spans or [(0, len(text))]


class Analyzer:
    """Turns text into lexical terms: dictionary lemmas, surname bases and digits, without stop words."""

    def __init__(self) -> None:
        self.morph = pymorphy3.MorphAnalyzer()
        self._term = lru_cache(maxsize=200_000)(self._term_uncached)

    @staticmethod
    def fingerprint() -> str:
        """Changes whenever the rules that turn text into terms change."""
        rules = [ANALYZER_VERSION, _SURNAME.pattern, sorted(STOP_WORDS), sorted(_NUMERALS.items())]
        return hashlib.sha256(repr(rules).encode("utf-8")).hexdigest()[:16]

    def terms(self, text: str) -> list[str]:
        out: list[str] = []
        sentence_start = True
        for token in razdel_tokenize(text):
            word = token.text
            if not _WORD.search(word):
                sentence_start = sentence_start or word in _SENTENCE_END
                continue
            term = self._term(word, word[0].isupper() and not sentence_start)
            sentence_start = False
            if term:
                out.append(term)
        return out

    def _term_uncached(self, word: str, capitalised_inside: bool) -> str:
        lower = word.lower().replace("ё", "е").strip("_")
        if not lower:
            return ""
        if not _CYRILLIC.search(lower):
            return lower if lower not in STOP_WORDS else ""
        parse = self.morph.parse(lower)[0]
        common_noun = self.morph.word_is_known(lower) and not {"Surn", "Name"} & set(parse.tag.grammemes)
        if parse.tag.POS in (None, "NOUN") and (capitalised_inside or not common_noun):
            surname = _SURNAME.match(lower)
            if surname:
                return surname.group(1)
        lemma = parse.normal_form.replace("ё", "е")
        if lemma in STOP_WORDS:
            return ""
        return _NUMERALS.get(lemma, lemma)


# Latin-script names in English or Azerbaijani questions (Tokayev, Aktau, Qazaxıstan)
# become their Russian spelling, so they can match the Russian articles lexically.
_TRANSLIT_MULTI = (
    ("shch", "щ"), ("yev", "ев"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("kh", "х"),
    ("ts", "ц"), ("ya", "я"), ("yu", "ю"), ("yo", "е"), ("ye", "е"), ("ai", "ай"),
    ("ay", "ай"), ("ey", "ей"), ("iy", "ий"), ("oy", "ой"), ("ck", "к"),
)  # fmt: skip
_TRANSLIT_SINGLE = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzəıöüğçşq",
    "абкдефгхийклмнопкрстуввкызеыоюгчшк",
)


def latin_to_cyrillic(word: str) -> str:
    out = word.lower()
    if any(ch in "əığçş" for ch in out):  # Azerbaijani spelling
        out = out.replace("c", "j").replace("x", "kh").replace("q", "k")
    for latin, cyrillic in _TRANSLIT_MULTI:
        out = out.replace(latin, cyrillic)
    out = out.replace("j", "дж")
    return out.translate(_TRANSLIT_SINGLE)


_LETTER = re.compile(r"[^\W\d_]")
_KAZAKH = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_AZERBAIJANI = frozenset("əığçşöüƏİĞÇŞÖÜ")


def has_latin(word: str) -> bool:
    return bool(_LATIN.search(word)) or any(ch in _AZERBAIJANI for ch in word)


Language = Literal["ru", "en", "az", "kk"]
OTHER_LANGUAGES: tuple[Language, ...] = ("en", "az", "kk")  # the passages are Russian


def question_language(text: str) -> Language:
    """The language of a question by its letters: Kazakh when it has letters only Kazakh has,
    Russian when mostly Cyrillic, Azerbaijani when its Latin letters include Azerbaijani
    ones, else English (the four languages the bot is asked in)."""
    letters = _LETTER.findall(text)
    if any(ch in _KAZAKH for ch in letters):
        return "kk"
    if sum(1 for ch in letters if _CYRILLIC.match(ch)) * 2 > len(letters):
        return "ru"
    return "az" if any(ch in _AZERBAIJANI for ch in letters) else "en"
