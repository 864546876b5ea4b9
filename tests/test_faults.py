"""Fault injection below the bot: bad corpus files, damaged or unwritable indexes, failing builds.

Each case checks the expected behaviour: a clear error naming the file and the problem,
nothing of the corpus lost, and the last good index still serving.
"""

import asyncio
import errno
import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from retrieval import index as index_module
from retrieval.corpus import MAX_PASSAGE_CHARS, load_corpus
from retrieval.errors import CorpusError, IndexCorruptError, ReindexBusyError
from retrieval.index import CURRENT_FILE, build_index, current_generation, load_index, remove_leftovers
from retrieval.service import QAService
from retrieval.settings import RetrievalSettings
from testkit.articles import big_article

from .conftest import ROOT

QUESTION = "Какие порты соединит подводный кабель по дну Каспия?"


def answers(service: QAService) -> bool:
    result = asyncio.run(service.ask(QUESTION, 3))
    return any("Актау и Алят" in hit.passage.text for hit in result.hits)


def reindex(service: QAService):
    return asyncio.run(service.reindex())


def test_huge_file_is_refused_and_the_old_index_serves(service, seeds) -> None:
    (seeds / "huge.txt").write_bytes(b"a" * (20 * 2**20))
    with pytest.raises(CorpusError, match=r"huge\.txt.*bytes, more than"):
        reindex(service)
    assert answers(service)


def test_duplicate_article_is_skipped_with_a_warning(service, seeds) -> None:
    original = (seeds / "001_183a491a6e9a6b1a.txt").read_text("utf-8")
    (seeds / "zz_copy.txt").write_text(original.replace("\n\n", "\n \n"), "utf-8")
    report = reindex(service)
    assert any("zz_copy.txt" in w and "001_183a491a6e9a6b1a.txt" in w for w in report.warnings)
    assert {getattr(w, "code", None) for w in report.warnings} == {"duplicate"}  # across the build process
    assert "zz_copy" not in {a.article.article_id for a in service.articles()}


def test_giant_single_line_paragraph_is_indexed_in_slices(service, seeds) -> None:
    sentence = "Паромная переправа через Каспий перевезла рекордный объём грузов за сутки. "
    (seeds / "giant.txt").write_text(sentence * 3000, "utf-8")
    reindex(service)
    giant = [p for p in service.retriever.index.passages if p.article_id == "giant"]
    assert len(giant) > 100 and all(len(p.text) <= MAX_PASSAGE_CHARS for p in giant)


def test_broken_sources_toml_fails_the_reindex_not_the_service(service, seeds) -> None:
    (seeds / "sources.toml").write_text("[[[ not toml", "utf-8")
    with pytest.raises(CorpusError, match=r"sources\.toml"):
        reindex(service)
    assert answers(service)


def test_bot_starts_on_the_last_good_index_when_the_corpus_breaks(
    seeds, tmp_path, embedder, analyzer
) -> None:
    QAService.open(seeds, tmp_path / "idx", embedder, analyzer).close()
    (seeds / "bad.txt").write_bytes("Текст".encode("cp1251"))
    reopened = QAService.open(seeds, tmp_path / "idx", embedder, analyzer)
    assert answers(reopened)
    reopened.close()


def test_full_disk_during_a_build_leaves_the_live_index(service, seeds, tmp_path) -> None:
    live = current_generation(tmp_path / "idx")
    (seeds / "big.txt").write_text(big_article(1_200_000), "utf-8")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # The build process inherits the cap: its bigger writes fail with EFBIG, like a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, hard))
    try:
        with pytest.raises(OSError, match="File too large"):
            reindex(service)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert current_generation(tmp_path / "idx") == live
    assert not list((tmp_path / "idx").glob(".building-*"))
    assert answers(service)


def test_index_dir_that_is_a_file_gives_a_clear_error(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "index-is-a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INDEX_DIR", str(blocker))
    with pytest.raises(ValidationError, match=r"index_dir\n.*index-is-a-file' exists and is not a folder"):
        RetrievalSettings(_env_file=None)
    assert blocker.read_text() == "not a folder"


def test_truncated_vectors_are_detected(service, tmp_path) -> None:
    vectors = current_generation(tmp_path / "idx") / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:200])
    with pytest.raises(IndexCorruptError, match=r"damaged|disagree"):
        load_index(tmp_path / "idx")


def test_second_reindex_while_one_runs_is_refused(service) -> None:
    async def two_at_once():
        first = asyncio.create_task(service.reindex())
        await asyncio.sleep(0)
        with pytest.raises(ReindexBusyError):
            await service.reindex()
        return await first

    assert asyncio.run(two_at_once()).manifest.passages > 0


def test_questions_during_a_reindex_are_answered(service) -> None:
    async def ask_while_building():
        build = asyncio.create_task(service.reindex())
        results = await asyncio.gather(*(service.ask(QUESTION, 3) for _ in range(50)))
        await build
        return results

    results = asyncio.run(ask_while_building())
    assert len(results) == 50 and all(r.hits for r in results)


def test_env_is_ignored_by_git_and_the_example_holds_no_secrets() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
    example = (ROOT / ".env.example").read_text("utf-8")
    values = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    assert values["TELEGRAM_BOT_TOKEN"] == "" and values["WEBHOOK_SECRET"] == ""


def test_load_corpus_reports_sources_for_missing_files(seeds: Path) -> None:
    with open(seeds / "sources.toml", "a", encoding="utf-8") as f:
        f.write('\n["gone.txt"]\noutlet = "X"\n')
    assert any("gone.txt" in w for w in load_corpus(seeds).warnings)


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_start_up_build_failure_starts_on_the_last_good_index(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    QAService.open(seeds, tmp_path / "idx", embedder, analyzer).close()
    live = current_generation(tmp_path / "idx")
    (seeds / "new.txt").write_text("Новая статья о паромной переправе через Каспий.", "utf-8")
    monkeypatch.setattr(index_module, "_write_generation", no_space)
    reopened = QAService.open(seeds, tmp_path / "idx", embedder, analyzer)
    try:
        assert "No space left on device" in reopened.stale_reason
        assert answers(reopened)
        assert current_generation(tmp_path / "idx") == live
        assert not list((tmp_path / "idx").glob(".building-*"))
    finally:
        reopened.close()


def test_start_up_build_failure_without_a_good_index_is_raised(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    monkeypatch.setattr(index_module, "_write_generation", no_space)
    with pytest.raises(OSError, match="No space left"):
        QAService.open(seeds, tmp_path / "idx", embedder, analyzer)


def test_a_good_start_has_no_stale_reason(service) -> None:
    assert service.stale_reason is None


def test_start_up_removes_crash_leftovers_and_prunes_generations(seeds, tmp_path, embedder, analyzer) -> None:
    index_dir = tmp_path / "idx"
    QAService.open(seeds, index_dir, embedder, analyzer).close()
    live = current_generation(index_dir)
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    for stamp in (1, 2, 3):  # generations older than the live one, from earlier builds
        shutil.copytree(live, index_dir / f"gen-{stamp:019d}")
    shutil.copytree(live, index_dir / f".building-{dead}-1")  # a build killed while writing
    (index_dir / f"CURRENT.tmp-{dead}").write_text("gen-x\n")
    running = index_dir / f".building-{os.getpid()}-2"  # a build in a live process: kept
    running.mkdir()
    (seeds / ".new.txt.uploading").write_bytes(b"half an artic")
    reopened = QAService.open(seeds, index_dir, embedder, analyzer)
    assert answers(reopened)
    reopened.close()
    assert current_generation(index_dir) == live
    left = sorted(p.name for p in index_dir.iterdir())
    kept = sorted([CURRENT_FILE, live.name, f"gen-{3:019d}", running.name])
    assert left == kept, f"expected {index_module.KEPT_GENERATIONS} generations and no leftovers"
    assert not list(seeds.glob(".*.uploading"))


def test_a_build_that_fails_after_writing_leaves_no_extra_generation(
    seeds, tmp_path, embedder, analyzer, monkeypatch
) -> None:
    index_dir = tmp_path / "idx"
    for _ in range(2):  # a live and a previous generation
        build_index(seeds, index_dir, embedder, analyzer)
    live = current_generation(index_dir)
    monkeypatch.setattr(index_module, "_switch_current", no_space)
    with pytest.raises(OSError, match="No space left"):
        build_index(seeds, index_dir, embedder, analyzer)  # wrote a generation that never went live
    remove_leftovers(index_dir)
    assert len(list(index_dir.glob("gen-*"))) == index_module.KEPT_GENERATIONS
    assert current_generation(index_dir) == live
