import datetime as dt
from pathlib import Path

import pytest

from retrieval.corpus import MAX_PASSAGE_CHARS, load_corpus, parse_article
from retrieval.errors import CorpusError


def test_seed_corpus_parses_with_metadata(seeds: Path) -> None:
    corpus = load_corpus(seeds)
    by_file = {a.file_name: a for a in corpus.articles}
    assert len(by_file) == 5
    trend = by_file["001_183a491a6e9a6b1a.txt"]
    assert trend.source.outlet == "Trend"
    assert trend.date == dt.date(2025, 10, 20)
    assert trend.passages[0].text.startswith("БАКУ /Trend/")
    assert by_file["002_950893789275b63c.txt"].date is None
    assert by_file["003_b1657c1bc3b6d52e.txt"].source.author == "Ибрагим Алиев"
    texts = [p.text for a in corpus.articles for p in a.passages]
    assert not any(t.startswith(("Автор:", "date ")) for t in texts)


def test_header_date_and_author_line() -> None:
    article = parse_article("a.txt", " date 2025-10-24 Автор: Имя Фамилия\n\nПервый абзац.\n\nВторой абзац.")
    assert article is not None
    assert article.date == dt.date(2025, 10, 24)
    assert article.source.author == "Имя Фамилия"
    assert [p.text for p in article.passages] == ["Первый абзац.", "Второй абзац."]


def test_first_paragraph_shares_the_header_line() -> None:
    article = parse_article("a.txt", " date 2025-10-21 Президент прибыл.\n\nДальше.")
    assert article is not None
    assert article.passages[0].text == "Президент прибыл."


def test_missing_date_is_none_not_invented() -> None:
    article = parse_article("a.txt", "Текст без даты.\n\nЕщё абзац.")
    assert article is not None and article.date is None


def test_bom_and_crlf(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("\ufeff date 2025-10-20 Один.\r\n\r\nДва.\r\n".encode())
    article = load_corpus(tmp_path).articles[0]
    assert article.date == dt.date(2025, 10, 20)
    assert [p.text for p in article.passages] == ["Один.", "Два."]


def test_empty_file_is_skipped_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "empty.txt").write_text("  \n\n", "utf-8")
    (tmp_path / "b.txt").write_text("Текст.", "utf-8")
    corpus = load_corpus(tmp_path)
    assert [a.file_name for a in corpus.articles] == ["b.txt"]
    assert "empty.txt" in caplog.text


def test_non_utf8_file_names_file_and_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes("Текст".encode("cp1251"))
    with pytest.raises(CorpusError, match=r"bad\.txt.*not UTF-8"):
        load_corpus(tmp_path)


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02PNG")
    with pytest.raises(CorpusError, match=r"bin\.txt.*binary"):
        load_corpus(tmp_path)


def test_broken_sources_toml(seeds: Path) -> None:
    (seeds / "sources.toml").write_text('["a.txt"\noutlet = ', "utf-8")
    with pytest.raises(CorpusError, match=r"sources\.toml.*TOML"):
        load_corpus(seeds)


def test_unknown_key_in_sources_toml(seeds: Path) -> None:
    (seeds / "sources.toml").write_text('["000_e24caed92fdcf6ad.txt"]\nautor = "X"\n', "utf-8")
    with pytest.raises(CorpusError, match="autor"):
        load_corpus(seeds)


def test_passage_ids_are_stable_and_unique(seeds: Path) -> None:
    first = [p.passage_id for p in load_corpus(seeds).passages]
    second = [p.passage_id for p in load_corpus(seeds).passages]
    assert first == second
    assert len(set(first)) == len(first)
    article = parse_article("x.txt", "Повтор.\n\nПовтор.")
    assert article is not None
    assert len({p.passage_id for p in article.passages}) == 2


def test_lead_in_paragraph_keeps_its_quote() -> None:
    article = parse_article("a.txt", "Он процитировал поэта:\n\n«Цитата!»\n\nДругое.")
    assert article is not None
    assert [p.text for p in article.passages] == ["Он процитировал поэта:\n\n«Цитата!»", "Другое."]


def test_giant_paragraph_is_cut_between_sentences() -> None:
    sentence = "Это одно длинное предложение о сотрудничестве двух стран в регионе. "
    article = parse_article("a.txt", sentence * 200)
    assert article is not None
    assert len(article.passages) > 1
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in article.passages)
    assert all(p.text.endswith(".") for p in article.passages)


def test_lines_without_blank_lines_are_paragraphs() -> None:
    article = parse_article("a.txt", "Первая строка.\nВторая строка.\nТретья строка.")
    assert article is not None
    assert len(article.passages) == 3


def test_invisible_characters_are_removed() -> None:
    article = parse_article("a.txt", "Сло\u200bво\x07 и\u00ad текст.")
    assert article is not None
    assert article.passages[0].text == "Слово и текст."
