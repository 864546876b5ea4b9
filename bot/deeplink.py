"""Deep links: `https://t.me/<bot>?start=<payload>` opens the bot with a question asked.

Telegram allows 64 characters of [A-Za-z0-9_-] in a start payload, so the question travels
base64url-encoded: one letter for the encoding, then the bytes. Russian fits twice as long
in cp1251 (one byte a letter) as in UTF-8. A question too long for either is not shared
as a question; the share button then points at the quoted passage ("p" payloads).

    q<base64url(UTF-8 question)>
    w<base64url(cp1251 question)>
    r<one character per letter>: a Russian question lowercased, ё as е, other punctuation
      dropped; 63 letters long at most, for questions too long for the exact encodings
    p<sentence index as one base64 digit><base64url(passage id)>
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import urllib.parse
from dataclasses import dataclass

PAYLOAD_LIMIT = 64
_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The "r" alphabet: 32 Russian letters, space, digits and a little punctuation, one payload
# character each.
_RUSSIAN = "абвгдежзийклмнопрстуфхцчшщъыьэюя 0123456789?-.,+%"
_TO_PAYLOAD = {ch: _DIGITS[i] for i, ch in enumerate(_RUSSIAN)}
_FROM_PAYLOAD = {_DIGITS[i]: ch for i, ch in enumerate(_RUSSIAN)}


@dataclass(frozen=True)
class Question:
    text: str


@dataclass(frozen=True)
class PassageLink:
    passage_id: str
    sentence: int  # which sentence of the passage answered


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def question_payload(question: str) -> str | None:
    """The shortest payload that carries the question, or None when none fits."""
    text = " ".join(question.split())
    options = [f"q{_b64(text.encode('utf-8'))}"]
    with contextlib.suppress(UnicodeEncodeError):  # not Russian-only: UTF-8 it is
        options.append(f"w{_b64(text.encode('cp1251'))}")
    best = min(options, key=len)
    if not text or len(best) <= PAYLOAD_LIMIT:
        return best if text else None
    letters = [_TO_PAYLOAD.get(ch) for ch in text.lower().replace("ё", "е")]
    if None in letters and any(ch.isalpha() for ch, code in zip(text, letters, strict=True) if code is None):
        return None  # letters outside Russian: the lossy form would change the question
    compact = "".join(code for code in letters if code)
    return f"r{compact}" if len(compact) < PAYLOAD_LIMIT else None


def passage_payload(passage_id: str, sentence: int) -> str | None:
    payload = f"p{_DIGITS[min(sentence, len(_DIGITS) - 1)]}{_b64(passage_id.encode('utf-8'))}"
    return payload if len(payload) <= PAYLOAD_LIMIT else None


def parse(payload: str) -> Question | PassageLink | None:
    """What a start payload asks for; None for anything malformed (links get mangled)."""
    if len(payload) < 2 or len(payload) > PAYLOAD_LIMIT:
        return None
    kind, body = payload[0], payload[1:]
    try:
        if kind == "q":
            text = _unb64(body).decode("utf-8")
        elif kind == "w":
            text = _unb64(body).decode("cp1251")
        elif kind == "r" and all(ch in _FROM_PAYLOAD for ch in body):
            text = "".join(_FROM_PAYLOAD[ch] for ch in body)
        elif kind == "p" and len(body) > 1 and body[0] in _DIGITS:
            return PassageLink(_unb64(body[1:]).decode("utf-8"), _DIGITS.index(body[0]))
        else:
            return None
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    text = " ".join(text.split())
    return Question(text) if text else None


def start_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


def share_url(link: str, text: str) -> str:
    """Telegram's own share dialog: pick a chat, the link and text are sent there."""
    return "https://t.me/share/url?" + urllib.parse.urlencode({"url": link, "text": text})
