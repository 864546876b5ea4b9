"""Dense encoders: the Embedder contract, the sentence-transformers one, and a fake for tests."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from retrieval.errors import ModelLoadError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "models/multilingual-e5-small-q4"
# Models trained with instruction prefixes, when their folder does not declare prompts.
_KNOWN_PROMPTS = ((re.compile(r"e5", re.IGNORECASE), {"query": "query: ", "document": "passage: "}),)


class Embedder(Protocol):
    """The smallest contract a dense encoder meets: normalised float32 rows."""

    name: str
    dimension: int
    # FusionParams fitted for this model (`python -m retrieval fit --write`); cosines and
    # their spread differ from model to model, so thresholds do not carry over.
    calibration: dict[str, float]

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """A relative path that exists under the project root is used from there, so the
    default works from any working directory; anything else is a hub id or a path."""
    if not os.path.isabs(name) and not Path(name).exists() and (PROJECT_ROOT / name).exists():
        return str(PROJECT_ROOT / name)
    return name


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub id or local path."""

    def __init__(self, model_name: str) -> None:
        self.name = model_name
        path = resolve_model_path(model_name)
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(path, device="cpu", trust_remote_code=_is_own_module(path))
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise ModelLoadError(
                f"cannot load embedding model {model_name!r}: {exc}. "
                f"Set EMBEDDING_MODEL to a local sentence-transformers folder "
                f"(the offline default is {DEFAULT_MODEL!r})."
            ) from exc
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)
        prompts = {k: v for k, v in (self._model.prompts or {}).items() if v}
        if not prompts:
            for pattern, known in _KNOWN_PROMPTS:
                if pattern.search(model_name):
                    prompts = known
        self._query_prompt = prompts.get("query", "")
        self._passage_prompt = prompts.get("document", prompts.get("passage", ""))
        # A one-module model that encodes text itself (the built-in e5 engine) is called
        # directly: SentenceTransformer.encode costs more per call than a short query needs.
        self.calibration = _read_calibration(path)
        modules = list(self._model)
        self._direct = getattr(modules[0], "encode_texts", None) if len(modules) == 1 else None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if self._direct is not None:
            return self._direct([prompt + t for t in texts] if prompt else list(texts))
        vectors = self._model.encode(
            list(texts),
            prompt=prompt or None,
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


CALIBRATION_FILE = "calibration.json"


def calibration_path(model_name: str) -> Path | None:
    """Where a local model folder keeps its calibration; None for a hub id."""
    folder = Path(resolve_model_path(model_name))
    return folder / CALIBRATION_FILE if folder.is_dir() else None


def _read_calibration(path: str) -> dict[str, float]:
    file = calibration_path(path)
    if file is None or not file.is_file():
        log.warning(
            "model %s has no %s: answer confidences use generic thresholds; "
            "run `python -m retrieval fit --write` on an eval set",
            path,
            CALIBRATION_FILE,
        )
        return {}
    try:
        values = json.loads(file.read_text("utf-8"))
        return {str(k): float(v) for k, v in values.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"calibration file {file} is unreadable: {exc}") from exc


def _is_own_module(path: str) -> bool:
    """Trust code only for folders whose modules are sentence-transformers' or this project's."""
    modules_file = Path(path) / "modules.json"
    if not modules_file.is_file():
        return False
    try:
        types = [m["type"] for m in json.loads(modules_file.read_text("utf-8"))]
    except (ValueError, KeyError, TypeError):
        return False
    return any(t.startswith("retrieval.") for t in types) and all(
        t.startswith(("retrieval.", "sentence_transformers.")) for t in types
    )


class HashEmbedder:
    """Deterministic fake: bag of hashed character trigrams, normalised. For tests only."""

    # `python -m retrieval fit` over tests/data's eval sets with EMBEDDING_MODEL=hash-64.
    CALIBRATION: ClassVar[dict[str, float]] = {
        "sentence": 0.0,
        "previous": 0.2,
        "bm25": 3.2,
        "sentence_bm25": 1.0,
        "none_below": 0.5129,
        "high_from": 0.6264,
        "highlight_bm25": 0.0,
        "highlight_stems": 0.05,
        "highlight_answer_type": 0.0,
        "highlight_neighbour_margin": 0.02,
    }

    def __init__(self, dimension: int = 64) -> None:
        self.name = f"hash-{dimension}"
        self.dimension = dimension
        self.calibration = dict(self.CALIBRATION)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode_passages(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = f"  {text.lower()}  "
            for i in range(len(lowered) - 2):
                digest = hashlib.blake2b(lowered[i : i + 3].encode("utf-8"), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


class QueryCache:
    """An embedder that remembers the vectors of recent questions, so that the same question
    asked again (an example button, a shared link, an inline query typed once more) is not
    encoded again. A vector depends only on the text and the model, so entries never go
    stale; the oldest go first when `size` is reached."""

    def __init__(self, inner: Embedder, size: int) -> None:
        self.name = inner.name
        self.dimension = inner.dimension
        self.calibration = inner.calibration
        self._inner = inner
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # searches run in several threads

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing = []
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:
                    missing.append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vector
        if missing:
            out[missing] = self._inner.encode_queries([texts[i] for i in missing])
            with self._lock:
                for i in missing:
                    self._vectors[texts[i]] = out[i].copy()
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return out

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._inner.encode_passages(texts)


def load_embedder(model_name: str) -> Embedder:
    if model_name.startswith("hash-"):
        return HashEmbedder(int(model_name.removeprefix("hash-")))
    return SentenceTransformerEmbedder(model_name)
