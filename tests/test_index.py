import json
from pathlib import Path

import numpy as np
import pytest

from retrieval import index as index_module
from retrieval.embedder import HashEmbedder
from retrieval.engine import open_retriever
from retrieval.errors import IndexCorruptError, IndexMissingError, StaleIndexError
from retrieval.index import (
    LoadedIndex,
    build_index,
    check_fresh,
    current_generation,
    load_index,
    read_manifest,
)
from retrieval.lexical import LexicalIndex, TermCounts
from retrieval.search import Retriever


def test_round_trip_keeps_passages_and_metadata(seeds, tmp_path, embedder, analyzer) -> None:
    report = build_index(seeds, tmp_path / "idx", embedder, analyzer)
    loaded = load_index(tmp_path / "idx")
    assert loaded.manifest == report.manifest
    assert loaded.manifest.passages == len(loaded.passages) == loaded.dense.ntotal
    assert loaded.manifest.model == "hash-64"
    assert loaded.articles["001_183a491a6e9a6b1a"].source.outlet == "Trend"
    assert report.added == sorted(loaded.articles)
    hit = Retriever(loaded, embedder, analyzer).search("Какие порты соединит подводный кабель?", 3).hits[0]
    assert "Актау и Алят" in hit.passage.text


def test_missing_index_is_reported(tmp_path) -> None:
    with pytest.raises(IndexMissingError, match="python -m retrieval build"):
        read_manifest(tmp_path / "nothing")


def test_other_model_is_stale(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    with pytest.raises(StaleIndexError, match="hash-64"):
        check_fresh(read_manifest(tmp_path / "idx"), "other-model", seeds)


def test_changed_corpus_is_stale_and_rebuilt(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds)
    (seeds / "new.txt").write_text("Новая статья о строительстве моста через пролив.", "utf-8")
    with pytest.raises(StaleIndexError, match="changed"):
        check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds)
    retriever, report = open_retriever(seeds, tmp_path / "idx", embedder, analyzer)
    assert report is not None and report.added == ["new"]
    assert retriever.search("строительство моста через пролив", 1).hits[0].article.article_id == "new"


def test_rebuild_reports_changes(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    (seeds / "004_eb02a19616c79760.txt").unlink()
    with open(seeds / "000_e24caed92fdcf6ad.txt", "a", encoding="utf-8") as f:
        f.write("\n\nДобавленный абзац.")
    report = build_index(seeds, tmp_path / "idx", embedder, analyzer)
    assert report.removed == ["004_eb02a19616c79760"]
    assert report.changed == ["000_e24caed92fdcf6ad"]


def test_older_format_is_stale(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    manifest_path = current_generation(tmp_path / "idx") / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["format_version"] = 0
    manifest_path.write_text(json.dumps(raw))
    with pytest.raises(StaleIndexError, match="format"):
        check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds)


def test_failed_build_keeps_the_live_index(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    live = current_generation(tmp_path / "idx")

    class Exploding(HashEmbedder):
        def encode_passages(self, texts):
            raise RuntimeError("disk full")

    (seeds / "new.txt").write_text("Новая статья о визите, которую ещё предстоит закодировать.", "utf-8")
    with pytest.raises(RuntimeError):
        build_index(seeds, tmp_path / "idx", Exploding(64), analyzer)
    assert current_generation(tmp_path / "idx") == live
    assert load_index(tmp_path / "idx").manifest.passages > 0
    assert not list((tmp_path / "idx").glob(".building-*"))


def test_truncated_faiss_file_is_detected(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    faiss_file = current_generation(tmp_path / "idx") / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="damaged"):
        load_index(tmp_path / "idx")


def test_corrupt_manifest_is_detected(seeds, tmp_path, embedder, analyzer) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    (current_generation(tmp_path / "idx") / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="manifest"):
        read_manifest(tmp_path / "idx")
    retriever, report = open_retriever(seeds, tmp_path / "idx", embedder, analyzer)
    assert report is not None and retriever.passage_count > 0


def test_old_generations_are_pruned(seeds, tmp_path: Path, embedder, analyzer) -> None:
    for _ in range(4):
        build_index(seeds, tmp_path / "idx", embedder, analyzer)
    assert len(list((tmp_path / "idx").glob("gen-*"))) == 2


def test_reindex_encodes_only_new_texts(seeds, tmp_path, embedder, analyzer) -> None:
    first = build_index(seeds, tmp_path / "idx", embedder, analyzer).manifest
    assert first.encoded > first.passages  # passages plus the sentences of multi-sentence ones
    (seeds / "new.txt").write_text("Первое предложение новой статьи. Второе предложение.", "utf-8")
    second = build_index(seeds, tmp_path / "idx", embedder, analyzer).manifest
    assert second.passages == first.passages + 1
    assert second.encoded == 3  # the new passage and its two sentences, nothing else
    fresh = load_index(tmp_path / "idx")
    rebuilt = build_index(seeds, tmp_path / "other", embedder, analyzer)
    assert rebuilt.manifest.encoded == second.encoded + first.encoded
    assert np.allclose(fresh.vectors, load_index(tmp_path / "other").vectors)
    assert np.allclose(fresh.sentence_vectors, load_index(tmp_path / "other").sentence_vectors)


def _analysed_sentences(analyzer, monkeypatch, index: LoadedIndex) -> tuple[list[str], set[str]]:
    """Spy on the analyzer: the texts it is asked for, and the sentences of `index`."""
    asked: list[str] = []
    analyse = analyzer.terms

    def spy(text: str) -> list[str]:
        asked.append(text)
        return analyse(text)

    monkeypatch.setattr(analyzer, "terms", spy)
    old = {s for p in index.passages for s in p.sentence_texts()}
    return asked, old


@pytest.mark.parametrize("added", ["zz-new.txt", "000a-new.txt"])  # sorted last, and among the others
def test_reindex_analyses_only_new_sentences_and_matches_a_full_build(
    seeds, tmp_path, embedder, analyzer, monkeypatch, added
) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    asked, old = _analysed_sentences(analyzer, monkeypatch, load_index(tmp_path / "idx"))
    (seeds / added).write_text("Первое предложение новой статьи. Второе предложение о Бакуграде.", "utf-8")
    removed = sorted(seeds.glob("0*.txt"))[-1]
    removed.unlink()  # its terms, unless other articles use them, leave the vocabulary
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    assert "Второе предложение о Бакуграде." in asked
    assert not old & set(asked)  # the unchanged articles' sentences were read back
    monkeypatch.undo()
    incremental = load_index(tmp_path / "idx").lexical
    assert "бакуград" in incremental.sentences.vocab
    build_index(seeds, tmp_path / "full", embedder, analyzer)
    full = load_index(tmp_path / "full").lexical
    for name in LexicalIndex.FIELDS:
        mine, theirs = getattr(incremental, name), getattr(full, name)
        assert mine.vocab == theirs.vocab
        assert (mine.weights != theirs.weights).nnz == 0
    assert np.array_equal(incremental.sentence_passage, full.sentence_passage)


def test_changed_analysis_rules_analyse_every_sentence_again(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    asked, old = _analysed_sentences(analyzer, monkeypatch, load_index(tmp_path / "idx"))
    monkeypatch.setattr("retrieval.index.K1", 2.0)  # another shape: the old terms may not fit it
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    assert old <= set(asked)


def test_changed_analysis_rules_rebuild(seeds, tmp_path, embedder, analyzer, monkeypatch) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds, analyzer)
    monkeypatch.setattr("retrieval.index.K1", 2.0)
    with pytest.raises(StaleIndexError, match="analysis or scoring"):
        check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds, analyzer)


def test_a_quote_matches_its_speaker_named_a_paragraph_before(tmp_path, embedder, analyzer) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "interview.txt").write_text(
        "Своими мыслями поделился эксперт Института, политолог Рустем Бектрумов.\n\n"
        "«Маршрут укрепит позиции обеих стран».\n\n"
        "Товарооборот составил 547 миллионов долларов.",
        "utf-8",
    )
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    lexical = load_index(tmp_path / "idx").lexical
    scores = lexical.passages.score(dict.fromkeys(analyzer.terms("Бектрумов"), 1.0))
    assert scores[1] > 0 and scores[2] == 0
    assert lexical.sentences.score_rows(np.arange(3), dict.fromkeys(analyzer.terms("Бектрумов"), 1.0))[1] == 0


def test_changed_attribution_rules_rebuild(seeds, tmp_path, embedder, analyzer, monkeypatch) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    monkeypatch.setattr("retrieval.index.ATTRIBUTION_VERSION", 0)
    with pytest.raises(StaleIndexError):
        check_fresh(read_manifest(tmp_path / "idx"), embedder.name, seeds, analyzer)


def test_term_counts_do_not_depend_on_the_order_terms_are_listed_in() -> None:
    counts = TermCounts.of([["визит", "баку", "визит"], ["астана"]])
    same = TermCounts.of([["баку", "визит", "визит"], ["астана"]])
    assert counts.vocab == same.vocab == ["астана", "баку", "визит"]
    assert (counts.counts != same.counts).nnz == 0
    assert counts.counts[0, 2] == 2


def test_reindex_adds_new_passages_to_the_live_graph_and_rebuilds_it_when_one_is_gone(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    monkeypatch.setattr("retrieval.index.EXACT_SEARCH_LIMIT", 5)  # the seed corpus gets a graph
    built = []
    make = index_module.make_dense_index
    monkeypatch.setattr(
        "retrieval.index.make_dense_index", lambda vectors: built.append(len(vectors)) or make(vectors)
    )
    first = build_index(seeds, tmp_path / "idx", embedder, analyzer).manifest
    assert first.dense_index == "IndexHNSWFlat" and built == [first.passages]
    (seeds / "000a-new.txt").write_text("Новая статья о порте Актау.\n\nВторой абзац о Баку.", "utf-8")
    second = build_index(seeds, tmp_path / "idx", embedder, analyzer).manifest
    assert built == [first.passages]  # not built again: two passages added, rows moved
    index = load_index(tmp_path / "idx")
    assert index.dense.ntotal == second.passages == first.passages + 2
    _, found = index.dense.search(np.ascontiguousarray(index.vectors, dtype=np.float32), 1)
    texts = [p.text for p in index.passages]
    assert all(texts[row] == texts[i] for i, row in enumerate(found[:, 0]))  # each passage finds itself
    sorted(seeds.glob("0*.txt"))[-1].unlink()
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    assert len(built) == 2  # a passage is gone: a graph cannot drop it, so a new one is built


def test_a_generation_without_sentence_counts_is_analysed_again(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    build_index(seeds, tmp_path / "idx", embedder, analyzer)
    (current_generation(tmp_path / "idx") / LexicalIndex.COUNTS_FILE).unlink()  # as built by older code
    asked, old = _analysed_sentences(analyzer, monkeypatch, load_index(tmp_path / "idx"))
    second = build_index(seeds, tmp_path / "idx", embedder, analyzer).manifest
    assert old <= set(asked)
    assert second.encoded == 0  # the vectors are still taken over
    assert (current_generation(tmp_path / "idx") / LexicalIndex.COUNTS_FILE).is_file()
