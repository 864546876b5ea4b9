import shutil
from pathlib import Path

import pytest

from retrieval.embedder import HashEmbedder
from retrieval.service import QAService
from retrieval.text import Analyzer
from testkit.paths import PUBLIC_EVAL, ROOT, SEEDS

__all__ = ["PUBLIC_EVAL", "ROOT", "SEEDS"]


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder(64)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A private copy of the seed corpus that a test may change."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def service(seeds, tmp_path, embedder, analyzer) -> QAService:
    """The service over a private seed corpus and index, closed after the test."""
    opened = QAService.open(seeds, tmp_path / "idx", embedder, analyzer)
    yield opened
    opened.close()
