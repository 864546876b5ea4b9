import pytest

from retrieval.embedder import HashEmbedder
from retrieval.index import build_index, load_index
from retrieval.search import FusionParams, Retriever
from retrieval.text import (
    Analyzer,
    latin_to_cyrillic,
    normalise_for_match,
    question_language,
    sentence_spans,
)


def test_surnames_in_any_case_share_one_term(analyzer) -> None:
    forms = ["Токаев", "Токаева", "Токаеву", "Токаевым", "токаева"]
    assert {analyzer.terms(f"Президент {f}")[-1] for f in forms} == {"токаев"}
    assert analyzer.terms("Косбаевой") == analyzer.terms("Косбаева")


def test_numerals_become_digits_and_stop_words_go(analyzer) -> None:
    assert analyzer.terms("пять плюс один") == ["5", "плюс", "1"]
    assert analyzer.terms("Когда и где это было?") == []


def test_lemmas_fold_yo(analyzer) -> None:
    assert analyzer.terms("семёрка") == analyzer.terms("семерка")


def test_capitalised_common_nouns_keep_their_lemma(analyzer) -> None:
    # a sentence-initial common noun is not a surname (issue 12, item 15)
    assert analyzer.terms("Городов") == analyzer.terms("городов") == ["город"]
    assert analyzer.terms("Машины") == analyzer.terms("машины") == ["машина"]
    # a surname the dictionary does not know is cut to its base, typed in lower case too
    assert analyzer.terms("Косбаевой") == analyzer.terms("косбаева") == ["косбаев"]


def test_analyzer_fingerprint_is_stable(analyzer) -> None:
    assert analyzer.fingerprint() == type(analyzer)().fingerprint()


def test_latin_names_are_transliterated() -> None:
    assert [latin_to_cyrillic(w) for w in ["Tokayev", "Aliyev", "Aktau", "Alyat", "Kazakhstan"]] == [
        "токаев",
        "алиев",
        "актау",
        "алят",
        "казахстан",
    ]
    assert latin_to_cyrillic("Azərbaycan") == "азербайджан"


def test_evidence_normalisation() -> None:
    assert normalise_for_match("«Тёплые»  встречи — 15–18 дней") == normalise_for_match(
        '"теплые" встречи - 15-18 дней'
    )


def test_sentence_spans_cover_lines_and_sentences() -> None:
    text = "Первое предложение. Второе!\n\n«Цитата»"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["Первое предложение.", "Второе!", "«Цитата»"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Кто встретил Алиева в аэропорту?", "ru"),
        ("SOCAR КазМунайГаз", "ru"),  # a Latin name in a Russian question
        ("Who met Aliyev at the airport?", "en"),
        ("Qazaxıstan Füzulidə nə tikib?", "az"),
        ("Тоқаев түркі халықтары туралы не деді?", "kk"),  # Kazakh letters
        ("2025", "en"),  # no letters at all: not Russian
    ],
)
def test_russian_is_told_from_english_azerbaijani_and_kazakh(text: str, language: str) -> None:
    assert question_language(text) == language


def test_a_question_in_another_language_is_judged_with_its_languages_shift(seeds, tmp_path) -> None:
    embedder, analyzer = HashEmbedder(), Analyzer()
    build_index(seeds, tmp_path / "index", embedder, analyzer)
    retriever = Retriever(load_index(tmp_path / "index"), embedder, analyzer)
    questions = {
        "Which ports will the cable connect?": "low",  # English: lifted by its shift
        "Kabel hansı limanları birləşdirəcək?": "none",  # Azerbaijani: its shift is 0 here
        "Какие порты соединит кабель?": "none",
    }
    for query, expected in questions.items():
        ranking = retriever.rank(query, embedder.encode_queries([query])[0], 3)
        at = ranking.best_cosine
        # a `none` line just above the cosine
        shifted = retriever.with_params(none_below=at + 0.01, high_from=at + 0.5, shift_en=0.02, shift_az=0.0)
        assert shifted.confidence(query, ranking) == expected


def test_a_calibration_with_one_shift_for_all_languages_still_loads() -> None:
    params = FusionParams.calibrated({"other_language_shift": 0.03, "shift_kk": 0.05})
    assert (params.shift_en, params.shift_az, params.shift_kk) == (0.03, 0.03, 0.05)


def cosine_only_highlights(seeds, tmp_path) -> Retriever:
    """A retriever over the seed corpus (hash embedder) whose highlight is the sentence
    cosine alone: every highlight bonus off, so a test turns on the one it is about."""
    embedder, analyzer = HashEmbedder(), Analyzer()
    build_index(seeds, tmp_path / "index", embedder, analyzer)
    return Retriever(load_index(tmp_path / "index"), embedder, analyzer).with_params(
        highlight_bm25=0.0,
        highlight_stems=0.0,
        highlight_answer_type=0.0,
        highlight_previous=0.0,
        highlight_lead=0.0,
        highlight_neighbour_margin=0.0,
    )


def test_the_previous_sentence_weight_moves_the_highlight_to_what_follows_the_topic(seeds, tmp_path) -> None:
    plain = cosine_only_highlights(seeds, tmp_path)
    index = plain.index
    # a question worded as a passage's first sentence: that sentence is the best one
    passage = next(p for p in index.passages if len(p.sentences) >= 3)
    query = passage.sentence_texts()[0]
    hit = plain.search(query, 1).hits[0]
    assert hit.passage.passage_id == passage.passage_id
    assert hit.highlight == (passage.sentences[0],)
    # with a weight far above any cosine gap, the sentence after it wins
    following = plain.with_params(highlight_previous=100.0).search(query, 1).hits[0]
    assert following.highlight[0] == passage.sentences[1]


def test_the_lead_weight_moves_the_highlight_off_a_paragraphs_first_sentence(seeds, tmp_path) -> None:
    plain = cosine_only_highlights(seeds, tmp_path)
    index = plain.index
    passage = next(p for p in index.passages if len(p.sentences) >= 3)
    query = passage.sentence_texts()[0]
    assert plain.search(query, 1).hits[0].highlight == (passage.sentences[0],)
    moved = plain.with_params(highlight_lead=100.0).search(query, 1).hits[0]
    assert moved.passage.passage_id == passage.passage_id  # the ranking does not change
    assert passage.sentences[0] not in moved.highlight
    # a one-sentence passage keeps its only sentence
    single = next(p for p in index.passages if len(p.sentences) == 1)
    lone = plain.with_params(highlight_lead=100.0).search(single.text, 1).hits[0]
    assert lone.highlight == (single.sentences[0],)


def test_a_follow_ups_highlight_goes_by_the_question_not_its_context(seeds, tmp_path) -> None:
    plain = cosine_only_highlights(seeds, tmp_path)
    passage = next(p for p in plain.index.passages if len(p.sentences) >= 2)
    answered, asked = passage.sentence_texts()[:2]
    # the earlier question matched the first sentence; the follow-up asks about the second
    result = plain.search(asked, 3, context=f"{answered} {answered} {answered}")
    hit = next(h for h in result.hits if h.passage.passage_id == passage.passage_id)
    assert hit.highlight == (passage.sentences[1],)
