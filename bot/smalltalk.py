"""Messages that are not questions about the visit: greetings, thanks, "what can you do?".

Only a message that is nothing but small talk counts: "Привет, кто встретил Алиева?" is a
question and goes to the search.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["greeting", "thanks", "abilities"]

_PATTERNS: dict[Kind, str] = {
    "greeting": r"""
        привет(ствую)?|здравствуй(те)?|здрасьте|добр(ый|ое|ого)\s+(день|утро|вечер|дня|утра|вечера)
        |доброй\s+ночи|хай|салют|ку|hi|hello|hey|hiya|good\s+(morning|afternoon|evening)|greetings
        |salam|salamlar|salam\s+aleykum|sabahınız\s+xeyir|günortanız\s+xeyir|axşamınız\s+xeyir
        |сәлем|сәлеметсіз\s+бе|сәлеметсің\s+бе|қайырлы\s+(күн|таң|кеш)|ассалаумағалейкум|салам
    """,
    "thanks": r"""
        спасибо(\s+(большое|огромное))?|спс|благодарю|мерси|thanks?(\s+you)?(\s+(a\s+lot|so\s+much))?|thx|ty
        |təşəkkür(\s+edirəm)?|təşəkkürlər|sağ\s+ol(un)?|çox\s+sağ\s+ol(un)?
        |рахмет|рақмет(\s+сізге)?|көп\s+рақмет
    """,
    "abilities": r"""
        что\s+ты\s+(умеешь|можешь|знаешь)(\s+делать)?|кто\s+ты(\s+такой)?|что\s+ты\s+такое|ты\s+кто
        |что\s+(вы\s+)?умеете|помощь|помоги|что\s+делать|как\s+(тобой\s+)?пользоваться
        |what\s+can\s+you\s+do|what\s+do\s+you\s+(do|know)|who\s+are\s+you|help(\s+me)?|how\s+does\s+this\s+work
        |nə\s+edə\s+bilərsən|sən\s+kimsən|nə\s+bilirsən|kömək
        |не\s+істей\s+аласың|сен\s+кімсің|не\s+білесің|көмек
    """,
}
_ADDRESS = r"(?:\s+(?:бот|bot|друг|ребята|всем|there|everyone))?"
_COMPILED = {
    kind: re.compile(rf"^(?:{''.join(pattern.split())}){_ADDRESS}$", re.IGNORECASE)
    for kind, pattern in _PATTERNS.items()
}
_NOISE = re.compile(r"[\s!?.,:;…)(*👋🙏😊🙂❤️👍]+")


def classify(text: str) -> Kind | None:
    """The kind of small talk the whole message is, or None for anything else."""
    cleaned = " ".join(_NOISE.sub(" ", text).split())
    if not cleaned:
        return None
    for kind, pattern in _COMPILED.items():
        if pattern.match(cleaned):
            return kind
    return None
