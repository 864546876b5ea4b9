from retrieval.text import latin_to_cyrillic, normalise_for_match, sentence_spans


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
