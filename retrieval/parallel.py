"""Encoding a large corpus in worker processes, while the parent does the lexical analysis.

Threads would share one GIL with the lexical analysis; processes use both cores. Workers
are spawned, so a script that builds an index must guard its entry point with
`if __name__ == "__main__":` (the `python -m` commands of this project do).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from retrieval.embedder import Embedder, load_embedder
from retrieval.st_use import THREADS_ENV

# Below this many passages a worker's model load costs more than it saves.
PARALLEL_MIN_PASSAGES = 5000
CHUNK = 2000

_worker_embedder: Embedder | None = None


def _init_worker(model_name: str) -> None:
    global _worker_embedder
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault(THREADS_ENV, "1")  # one worker per core: no oversubscription
    _worker_embedder = load_embedder(model_name)


def _encode(texts: list[str]) -> np.ndarray:
    assert _worker_embedder is not None
    return _worker_embedder.encode_passages(texts)


class PassageEncoding:
    """Starts encoding at once; `result()` returns the vectors in passage order."""

    def __init__(self, embedder: Embedder, texts: list[str]) -> None:
        self._embedder = embedder
        self._texts = texts
        self._pool: ProcessPoolExecutor | None = None
        self._futures: list[Future] = []
        workers = min(2, os.cpu_count() or 1)
        if len(texts) >= PARALLEL_MIN_PASSAGES and workers > 1:
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(embedder.name,),
            )
            self._futures = [
                self._pool.submit(_encode, texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)
            ]

    def result(self) -> np.ndarray:
        if self._pool is None:
            return self._embedder.encode_passages(self._texts)
        try:
            parts = [future.result() for future in self._futures]
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return np.concatenate(parts) if parts else np.zeros((0, self._embedder.dimension), np.float32)
