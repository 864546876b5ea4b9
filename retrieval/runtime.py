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
    # OpenMP threads that spin while waiting for work take the cores from the event loop and
    # the searches around each encode; passive threads sleep.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    faiss.omp_set_num_threads(settings.faiss_threads)
