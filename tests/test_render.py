import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render, texts
from retrieval.corpus import Article, Passage, Source
from retrieval.results import Hit, SearchResult
from retrieval.service import ArticleSummary
from retrieval.text import sentence_spans
from testkit.fake_telegram import TelegramError, utf16_len, visible_text

RU = texts.RU
ARTICLE = Article("a1", "a1.txt", Source(outlet="Trend", date=dt.date(2025, 10, 20)))


def make_hit(text: str, highlight_sentence: int = 0, article: Article = ARTICLE) -> Hit:
    spans = tuple(sentence_spans(text))
    chosen = (spans[min(highlight_sentence, len(spans) - 1)],)
    return Hit(Passage(f"a1:{hash(text)}", "a1", 0, text, spans), article, 1.0, chosen)


def valid_telegram_html(message: str) -> bool:
    try:
        shown = visible_text(message)
    except TelegramError:
        return False
    return 0 < utf16_len(shown) <= render.TELEGRAM_LIMIT and len(message) <= render.TELEGRAM_LIMIT


def test_dates_in_russian() -> None:
    assert render.date_text(dt.date(2025, 10, 20), RU) == "20 октября 2025 г."
    assert render.date_text(dt.date(2025, 5, 1), RU) == "1 мая 2025 г."
    assert render.date_text(None, RU) == "дата не указана"


def test_quote_source_and_date() -> None:
    page = render.answer_page(SearchResult("q", (make_hit("Первое. Второе важное."),), "high"), 0, 3, RU)
    assert page.messages == [
        "1. <blockquote><b>Первое.</b> Второе важное.</blockquote>\nИсточник: Trend, 20 октября 2025 г."
    ]
    assert not page.has_more


def test_article_and_user_text_are_escaped() -> None:
    hit = make_hit("Цитата <script>alert(1)</script> & «кавычки».")
    message = render.answer_page(SearchResult("q", (hit,), "high"), 0, 3, RU).messages[0]
    assert "&lt;script&gt;" in message and "&amp;" in message
    assert valid_telegram_html(message)
    no = render.answer_page(SearchResult("<b>вопрос</b> & ответ", (hit,), "none"), 0, 3, RU).messages[0]
    assert "&lt;b&gt;вопрос&lt;/b&gt; &amp; ответ" in no
    assert "<blockquote>" not in no


def test_url_and_title_in_source_line() -> None:
    article = Article(
        "a", "a.txt", Source(outlet="A & B", title="Заголовок <1>", url='https://x.az/?a=1&b="2"')
    )
    line = render.source_line(article, RU)
    link = '<a href="https://x.az/?a=1&amp;b=&quot;2&quot;">A &amp; B</a>'
    assert line == f"Источник: {link}, «Заголовок &lt;1&gt;», дата не указана"
    assert valid_telegram_html(line)


def test_long_passage_is_trimmed_around_the_highlight() -> None:
    sentences = [f"Предложение номер {i} о сотрудничестве двух стран в регионе." for i in range(60)]
    hit = make_hit(" ".join(sentences), highlight_sentence=30)
    quote = render.quote_html(hit)
    assert quote.startswith("…") and quote.endswith("…")
    assert "<b>Предложение номер 30 о сотрудничестве двух стран в регионе.</b>" in quote
    assert len(visible_text(quote)) <= render.QUOTE_CHARS + 2


def test_huge_highlight_is_cut_inside_the_bold_not_across_tags() -> None:
    hit = make_hit("слово " * 2000)
    quote = render.quote_html(hit)
    assert quote.startswith("<b>") and quote.endswith("…</b>")
    assert valid_telegram_html(quote)


def test_answers_split_only_between_passages() -> None:
    text = " ".join(f"Длинное предложение {i} с символами & и <угловыми скобками>." for i in range(40))
    hits = tuple(make_hit(text, i) for i in range(6))
    page = render.answer_page(SearchResult("q", hits, "high"), 0, 6, RU)
    assert len(page.messages) > 1
    assert all(valid_telegram_html(m) for m in page.messages)
    assert all(m.split(". <blockquote>")[0].isdigit() for m in page.messages)
    assert sum(m.count("<blockquote>") for m in page.messages) == 6


def test_pages_and_more() -> None:
    hits = tuple(make_hit(f"Фрагмент {i}.") for i in range(7))
    first = render.answer_page(SearchResult("q", hits, "high"), 0, 3, RU)
    assert first.shown == 3 and first.has_more
    last = render.answer_page(SearchResult("q", hits, "high"), 6, 3, RU)
    assert last.shown == 1 and not last.has_more
    assert last.messages[0].startswith("Ещё по вопросу «q»:")
    assert render.answer_page(SearchResult("q", hits, "high"), 9, 3, RU).messages == [
        "Больше подходящих фрагментов нет."
    ]


def test_sources_list() -> None:
    summaries = [
        ArticleSummary(ARTICLE, 10),
        ArticleSummary(Article("b", "b.txt", Source(author="Автор")), 3),
    ]
    (message,) = render.sources_messages(summaries, RU)
    assert "Статьи в базе (2)" in message
    assert "Trend, 20 октября 2025 г." in message and "Автор, дата не указана" in message
    assert valid_telegram_html(message)


@settings(max_examples=200, deadline=None)
@given(
    passage=st.text(min_size=1, max_size=6000).filter(lambda t: t.strip()),
    question=st.text(max_size=5000),
    outlet=st.text(max_size=300),
    sentence=st.integers(min_value=0, max_value=50),
    abstained=st.booleans(),
)
def test_any_text_renders_to_valid_telegram_html(passage, question, outlet, sentence, abstained) -> None:
    article = Article("x", "x.txt", Source(outlet=outlet or None, title=outlet[:50] or None))
    hits = tuple(make_hit(passage, sentence + i, article) for i in range(3))
    page = render.answer_page(SearchResult(question or " ", hits, "none" if abstained else "high"), 0, 3, RU)
    assert page.messages
    for message in page.messages:
        assert valid_telegram_html(message), message[:200]
