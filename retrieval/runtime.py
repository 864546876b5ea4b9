"""Process-wide settings applied once, at the start of each entry point.

Some libraries read their configuration only from the environment or from process-wide
state: huggingface_hub reads HF_HUB_OFFLINE when it is imported, OpenMP engines read
OMP_NUM_THREADS when they load, and FAISS keeps one thread count for the process. This
module is the one place that writes them, from validated settings, before those
libraries are imported; nothing else in the project touches `os.environ`.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

# Libraries that log every request or every batch at INFO; httpx and httpcore also log
# request URLs, which contain the bot token.
NOISY_LOGGERS = ("httpx", "httpcore", "sentence_transformers", "huggingface_hub", "transformers", "pymorphy3")


class RuntimeSettings(Protocol):
    hf_hub_offline: bool
    faiss_threads: int
    encoder_threads: int


def quiet_noisy_loggers() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def apply_runtime(settings: RuntimeSettings) -> None:
    """Apply offline mode and thread counts for this process (and the processes it starts,
    which inherit the environment). Call before the embedding model is loaded."""
    os.environ["HF_HUB_OFFLINE"] = "1" if settings.hf_hub_offline else "0"
    if settings.encoder_threads:
        os.environ["OMP_NUM_THREADS"] = str(settings.encoder_threads)
    # Between the many short parallel regions of one encode, OpenMP threads must spin
    # (threads that sleep at once make a two-thread encode no faster than one); after the
    # encode they must sleep soon, leaving the cores to the event loop and the searches.
    # 10,000 spins (well under a millisecond) do both; libgomp's default spins 30 times longer.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    import faiss

    faiss.omp_set_num_threads(settings.faiss_threads)
