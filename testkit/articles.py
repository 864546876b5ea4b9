"""Generated articles for fault tests."""


def big_article(size: int) -> str:
    """Distinct Russian sentences, in paragraphs, of about `size` bytes of UTF-8."""
    paragraphs, total, n = [], 0, 0
    while total < size:
        sentences = [f"Паром номер {n + i} перевёз {7 * (n + i)} тонн груза через Каспий." for i in range(8)]
        paragraphs.append(" ".join(sentences))
        total += len(paragraphs[-1].encode("utf-8")) + 2
        n += 8
    return "\n\n".join(paragraphs)
