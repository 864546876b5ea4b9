import dataclasses
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
EN = texts.for_language("en")
ARTICLE = Article("a1", "a1.txt", Source(outlet="Trend", date=dt.date(2025, 10, 20)))
OTHER = Article("b2", "b2.txt", Source(author="Ибрагим Алиев", date=dt.date(2025, 10, 21)))


def make_hit(text: str, highlight_sentence: int = 0, article: Article = ARTICLE, score: float = 1.0) -> Hit:
    spans = tuple(sentence_spans(text))
    chosen = (spans[min(highlight_sentence, len(spans) - 1)],)
    passage = Passage(f"{article.article_id}:{abs(hash(text))}", article.article_id, 0, text, spans)
    return Hit(passage, article, score, chosen)


def valid_telegram_html(message: str) -> bool:
    try:
        shown = visible_text(message)
    except TelegramError:
        return False
    return 0 < utf16_len(shown) <= render.TELEGRAM_LIMIT and utf16_len(message) <= render.TELEGRAM_LIMIT


def test_dates_follow_the_language() -> None:
    assert render.date_text(dt.date(2025, 10, 20), RU) == "20 октября 2025 г."
    assert render.date_text(dt.date(2025, 5, 1), RU) == "1 мая 2025 г."
    assert render.date_text(None, RU) == "дата не указана"
    assert render.date_text(dt.date(2025, 10, 20), EN) == "20 October 2025"


def test_high_answer_opens_with_the_sentence_then_the_collapsed_paragraph() -> None:
    text = "Вступление к абзацу. Кабель соединит порты Актау и Алят. Завершение абзаца."
    reply = render.answer(SearchResult("q", (make_hit(text, 1),), "high"), RU)
    (message,) = reply.messages
    lines = message.split("\n")
    assert lines[0] == "<b>Кабель соединит порты Актау и Алят.</b>"
    assert lines[1] == "Источник: Trend, 20 октября 2025 г."
    assert lines[2] == (
        "<blockquote expandable>Вступление к абзацу. <b>Кабель соединит порты Актау и Алят.</b>"
        " Завершение абзаца.</blockquote>"
    )
    assert valid_telegram_html(message)


def test_speaker_is_named_from_the_paragraph_before() -> None:
    intro = "Об этом сказала Trend эксперт Института евразийской интеграции Казахстана Амина Косбаева."
    quote = '"Товарооборот вырос в полтора раза. Это хороший результат", - сказала она.'
    hit = make_hit(quote, 0)
    message = render.answer(SearchResult("q", (hit,), "high"), RU, {hit.passage.passage_id: intro}).messages[
        0
    ]
    assert message.split("\n")[1] == "— Амина Косбаева"


def test_author_is_labelled_as_author_not_as_the_source() -> None:
    hit = make_hit(
        "Президент Ильхам Алиев напомнил о визитах. Токаев шесть раз приезжал в Азербайджан.", 1, OTHER
    )
    message = render.answer(SearchResult("q", (hit,), "high"), RU).messages[0]
    assert "Автор: Ибрагим Алиев, 21 октября 2025 г." in message
    assert "Источник: Ибрагим Алиев" not in message
    both = Article("c", "c.txt", Source(outlet="1news.az", author="Рустем Бектрумов"))
    assert render.source_line(both, RU) == "Источник: 1news.az, дата не указана · автор: Рустем Бектрумов"


def test_url_and_title_make_a_link() -> None:
    article = Article(
        "a", "a.txt", Source(outlet="A & B", title="Заголовок <1>", url='https://x.az/?a=1&b="2"')
    )
    line = render.source_line(article, RU)
    link = '<a href="https://x.az/?a=1&amp;b=&quot;2&quot;">A &amp; B</a>'
    assert line == f"Источник: {link}, «Заголовок &lt;1&gt;», дата не указана"
    assert valid_telegram_html(line)


def test_further_passages_only_where_they_add_something() -> None:
    top = make_hit("Кабель соединит порты Актау и Алят. Работы идут.", 0)
    same_fact = make_hit("Кабель соединит порты Актау и Алят, сообщили в министерстве.", 0, score=0.95)
    weak = make_hit("Погода в Баку была солнечной.", 0, OTHER, score=0.3)
    other_article = make_hit("Завершение проекта запланировано на конец 2026 года.", 0, OTHER, score=0.9)
    result = SearchResult("q", (top, same_fact, weak, other_article), "high")
    reply = render.answer(result, RU)
    assert reply.shown == (top, other_article)
    assert reply.next_offset == 2
    assert "Погода" not in reply.messages[0]
    assert render.first_screen_chars(reply.messages[0]) <= render.FIRST_SCREEN


def test_low_confidence_shows_a_runner_up_a_high_answer_would_leave_out() -> None:
    top = make_hit("Кабель соединит порты Актау и Алят.", 0, score=8.8)
    runner_up = make_hit("Завершение проекта запланировано на конец 2026 года.", 0, OTHER, score=6.0)
    assert render.answer(SearchResult("q", (top, runner_up), "high"), RU).shown == (top,)
    assert render.answer(SearchResult("q", (top, runner_up), "low"), RU).shown == (top, runner_up)


def test_low_confidence_says_so_and_shows_at_most_two() -> None:
    hits = tuple(
        make_hit(f"Фрагмент номер {i} о сотрудничестве.", 0, [ARTICLE, OTHER][i % 2]) for i in range(5)
    )
    reply = render.answer(SearchResult("q", hits, "low"), RU)
    assert reply.messages[0].startswith("Точного ответа в статьях нет; ближе всего по теме:\n\n<b>")
    assert 1 <= len(reply.shown) <= render.LOW_PASSAGES
    assert reply.next_offset == len(reply.shown)


def test_no_answer_suggests_topics_of_the_nearest_passages_not_the_question() -> None:
    near = make_hit("Эксперт отметил развитие Среднего коридора и работу Организации тюркских государств.")
    reply = render.answer(SearchResult("Сколько стоит Средний коридор?", (near,), "none"), RU)
    (message,) = reply.messages
    assert message.startswith("В статьях нет ответа на вопрос «Сколько стоит Средний коридор?».")
    assert "<blockquote" not in message
    assert reply.suggestions == ("Организация тюркских государств",)
    assert reply.shown == () and reply.next_offset is None


def test_no_answer_without_topics_offers_examples_but_not_the_one_asked() -> None:
    asked = RU.examples[0]
    reply = render.answer(SearchResult(asked, (), "none"), RU)
    assert asked not in reply.suggestions
    assert set(reply.suggestions) <= set(RU.examples) and reply.suggestions


def test_follow_up_and_button_answers_say_what_they_answer() -> None:
    hit = make_hit("Завершение проекта запланировано на конец 2026 года.")
    result = SearchResult("а когда его достроят?", (hit,), "high", context="Какие порты соединит кабель?")
    message = render.answer(result, RU, asked=True).messages[0]
    assert message.startswith(
        "Вопрос: «а когда его достроят?»\n<i>Понял как уточнение к вопросу «Какие порты"
    )


def test_a_low_follow_up_does_not_quote_again_what_the_answer_before_quoted() -> None:
    quoted = make_hit("Кабель соединит порты Актау и Алят.", 0, score=8.0)
    near = tuple(
        make_hit(f"Фрагмент номер {i} о цифровом сотрудничестве.", 0, [OTHER, ARTICLE][i % 2], 7.0 - i)
        for i in range(6)
    )
    result = SearchResult(
        "а сколько он стоит?", (quoted, *near), "low", context="Какие порты соединит кабель?"
    )
    reply = render.answer(result, RU, seen=frozenset({quoted.passage.passage_id}))
    message = reply.messages[0]
    assert RU.followup_nothing_new in message and RU.followup_also_near in message
    assert RU.low_header not in message and "Актау" not in message
    assert reply.shown and quoted not in reply.shown and set(reply.shown) <= set(near)
    # "Ещё" searches again: its offset counts the quoted passage too
    assert reply.next_offset == len(reply.shown) + 1
    assert result.hits[reply.next_offset] not in reply.shown
    # nothing but what was quoted: say so, quote nothing
    alone = render.answer(
        SearchResult("а сколько он стоит?", (quoted,), "low", context="Какие порты соединит кабель?"),
        RU,
        seen=frozenset({quoted.passage.passage_id}),
    )
    assert RU.followup_nothing_new in alone.messages[0] and "Актау" not in alone.messages[0]
    assert alone.shown == () and alone.next_offset is None
    # a high answer quotes its passage even when it was quoted before: it answers this question
    high = render.answer(
        dataclasses.replace(result, confidence="high"), RU, seen=frozenset({quoted.passage.passage_id})
    )
    assert high.shown[0] == quoted and RU.followup_nothing_new not in high.messages[0]


def test_article_and_user_text_are_escaped() -> None:
    hit = make_hit("Цитата <script>alert(1)</script> & «кавычки». Второе предложение.")
    message = render.answer(SearchResult("q", (hit,), "high"), RU).messages[0]
    assert "&lt;script&gt;" in message and "&amp;" in message
    assert valid_telegram_html(message)
    no = render.answer(SearchResult("<b>вопрос</b> & ответ", (hit,), "none"), RU).messages[0]
    assert "&lt;b&gt;вопрос&lt;/b&gt; &amp; ответ" in no


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
    assert len(render.answer_text(hit)) <= render.ANSWER_CHARS + 1


def test_lengths_are_counted_in_utf16_units() -> None:
    """Emoji are two UTF-16 units: by code points these blocks would fit one message."""
    emoji = "🇦🇿🇰🇿🚢" * 120  # 720 code points, 1440 UTF-16 units
    hits = tuple(make_hit(f"{emoji} Предложение {i}. {emoji}", 0, score=1.0) for i in range(4))
    reply = render.more(SearchResult("q", hits, "high"), 0, 4, RU)
    assert len(reply.messages) > 1
    for message in reply.messages:
        assert utf16_len(message) <= render.TELEGRAM_LIMIT
        assert valid_telegram_html(message)
    assert sum(len(m) for m in reply.messages) < 4096 * len(reply.messages)


def test_more_pages_on_and_says_when_nothing_is_left() -> None:
    hits = tuple(make_hit(f"Фрагмент {i}.") for i in range(7))
    first = render.more(SearchResult("q", hits, "high"), 2, 3, RU)
    assert first.messages[0].startswith("Ещё по вопросу «q»:")
    assert first.shown == hits[2:5] and first.next_offset == 5
    last = render.more(SearchResult("q", hits, "high"), 6, 3, RU)
    assert last.next_offset is None
    assert render.more(SearchResult("q", hits, "high"), 9, 3, RU).messages == [
        "Больше подходящих фрагментов нет."
    ]


def test_first_screen_counts_only_the_preview_of_a_collapsed_quote() -> None:
    message = "<b>Ответ.</b>\n<blockquote expandable>" + "а" * 500 + "</blockquote>"
    assert render.first_screen_chars(message) == len("Ответ.\n") + render.COLLAPSED_PREVIEW
    assert render.first_screen_chars("<blockquote>" + "а" * 500 + "</blockquote>") == 500


def test_context_message_shows_the_neighbours() -> None:
    passages = [Passage(f"a1:{i}", "a1", i, f"Абзац {i} & текст.", ((0, 15),)) for i in range(3)]
    message = render.context_message(passages[1], ARTICLE, (passages[0], passages[2]), RU)
    assert message.index("Абзац 0") < message.index("<b>Абзац 1 &amp; текст.</b>") < message.index("Абзац 2")
    assert valid_telegram_html(message)
    assert render.context_message(passages[1], ARTICLE, (None, None), RU) == RU.context_none


def test_inline_entries_carry_quote_source_and_link() -> None:
    hit = make_hit("Кабель соединит порты Актау и Алят. Работы идут.")
    entries = render.inline_entries(SearchResult("q", (hit,), "high"), RU, {}, "https://t.me/bot?start=x", 5)
    (entry,) = entries
    assert entry.title == "Кабель соединит порты Актау и Алят."
    assert entry.description == "Trend, 20 октября 2025 г."
    assert "Источник: Trend, 20 октября 2025 г." in entry.message
    assert '<a href="https://t.me/bot?start=x">' in entry.message
    assert valid_telegram_html(entry.message)
    low = render.inline_entries(SearchResult("q", (hit,), "low"), RU, {}, None, 5)[0]
    assert low.description.startswith("ближе всего по теме")
    (none,) = render.inline_entries(SearchResult("q & a", (hit,), "none"), RU, {}, None, 5)
    assert none.message == "В статьях о визите нет ответа на вопрос «q &amp; a»."


def test_plain_text_for_the_console() -> None:
    message = "<b>Ответ &amp; всё.</b>\n<blockquote expandable>Абзац.</blockquote>"
    assert render.to_plain(message) == "*Ответ & всё.*\n  > Абзац."


NEWER = Source(outlet="Kazinform", date=dt.date(2025, 11, 2))


def test_sources_list() -> None:
    summaries = [
        ArticleSummary(ARTICLE, 10),
        ArticleSummary(Article("b", "b.txt", Source(author="Автор")), 3),
    ]
    (message,) = render.sources_messages([*summaries, ArticleSummary(Article("c", "c.txt", NEWER), 2)], RU)
    assert "Статьи в базе (3)" in message
    assert "Trend, 20 октября 2025 г." in message and "Автор: Автор, дата не указана" in message
    assert "Источник:" not in message and ".txt" not in message  # no repeated label, no file names
    assert message.index("Kazinform") < message.index("Trend") < message.index("Автор: Автор")
    assert valid_telegram_html(message)
    assert render.outlets(summaries) == "Trend, Автор"


@settings(max_examples=150, deadline=None)
@given(
    passage=st.text(min_size=1, max_size=6000).filter(lambda t: t.strip()),
    question=st.text(max_size=5000),
    outlet=st.text(max_size=300),
    sentence=st.integers(min_value=0, max_value=50),
    confidence=st.sampled_from(["high", "low", "none"]),
    lang=st.sampled_from(texts.LANGUAGES),
)
def test_any_text_renders_to_valid_telegram_html(
    passage, question, outlet, sentence, confidence, lang
) -> None:
    """UTF-16 lengths and valid HTML for any text, emoji and astral characters included."""
    t = texts.for_language(lang)
    article = Article("x", "x.txt", Source(outlet=outlet or None, title=outlet[:50] or None))
    hits = tuple(make_hit(passage, sentence + i, article, score=1.0) for i in range(3))
    result = SearchResult(question or " ", hits, confidence, context=question[:100] or None)
    before = {h.passage.passage_id: passage for h in hits}
    messages = [
        *render.answer(result, t, before, asked=True).messages,
        *render.more(result, 0, 3, t, before).messages,
        *(e.message for e in render.inline_entries(result, t, before, "https://t.me/b?start=q", 3)),
        render.context_message(hits[0].passage, article, (hits[1].passage, hits[2].passage), t),
    ]
    for message in messages:
        assert valid_telegram_html(message), message[:200]
