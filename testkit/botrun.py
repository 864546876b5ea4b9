"""Starting the real bot process against the fake Bot API: shared by the end-to-end suites
and the load benchmark."""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from retrieval.embedder import DEFAULT_MODEL
from testkit.fake_telegram import FakeTelegram, Sent
from testkit.paths import ROOT, SEEDS

TOKEN = "123456:TEST-token-for-the-local-fake-server-0000"
ADMIN = 100
SECOND_ADMIN = 101


@dataclass
class BotRun:
    fake: FakeTelegram
    seeds: Path
    log: Path
    process: subprocess.Popen

    def ask(self, user: int, text: str, count: int = 1, timeout: float = 60.0) -> list[Sent]:
        mark = self.fake.mark()
        self.fake.send_text(user, text)
        return self.fake.wait_for(user, count, since=mark, timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")


@functools.cache
def seed_index() -> Path:
    """The seed corpus indexed with the default model, built once per test run."""
    from retrieval.embedder import load_embedder
    from retrieval.index import build_index
    from retrieval.text import Analyzer

    folder = Path(tempfile.mkdtemp(prefix="seed-index-")) / "index"
    build_index(SEEDS, folder, load_embedder(DEFAULT_MODEL), Analyzer())
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_bot(
    fake: FakeTelegram,
    seeds: Path,
    index: Path,
    log: Path,
    per_minute: int = 1000,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    max_file_bytes: int | None = None,
    model: str = DEFAULT_MODEL,
) -> subprocess.Popen:
    """The real `python -m bot` with `model` (the real default unless a suite needs the fast
    fake `hash-64`); a new INDEX_DIR starts from the run's cached seed index, so the bot only
    encodes what its corpus adds to the seeds. `max_file_bytes` caps every file it writes
    (RLIMIT_FSIZE: a bigger write fails with EFBIG, like a full disk)."""
    if model == DEFAULT_MODEL and not index.exists():
        shutil.copytree(seed_index(), index)
    base = f"http://127.0.0.1:{port or fake.port}"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"{base}/bot",
        "TELEGRAM_API_BASE_FILE_URL": f"{base}/file/bot",
        "ADMIN_IDS": f"{ADMIN},{SECOND_ADMIN}",
        "SEEDS_DIR": str(seeds),
        "INDEX_DIR": str(index),
        "DATA_DIR": str(index.parent / "data"),  # the store beside the index, never the repository's
        "TOP_K": "3",
        "QUESTIONS_PER_MINUTE": str(per_minute),
        "HF_HUB_OFFLINE": "1",
        "EMBEDDING_MODEL": model,
        **(extra_env or {}),
    }

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files if max_file_bytes else None,
        )


def wait_until_polling(fake: FakeTelegram, process: subprocess.Popen, timeout: float = 300) -> None:
    """Until the bot asks for updates; fails at once when the process died on the way."""
    deadline = time.monotonic() + timeout
    while "getUpdates" not in fake.calls:
        if process.poll() is not None:
            raise AssertionError(f"the bot exited with status {process.returncode} before polling")
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot did not start polling within {timeout} s")
        time.sleep(0.05)


def stop_bot(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def copy_seeds(workdir: Path) -> Path:
    seeds = workdir / "seeds"
    shutil.copytree(SEEDS, seeds)
    return seeds


@contextlib.contextmanager
def running_bot(
    workdir: Path,
    seeds: Path,
    per_minute: int = 1000,
    model: str = DEFAULT_MODEL,
    extra_env: dict[str, str] | None = None,
) -> Iterator[BotRun]:
    workdir.mkdir(parents=True, exist_ok=True)
    fake = FakeTelegram(TOKEN).start()
    process = start_bot(
        fake, seeds, workdir / "index", workdir / "bot.log", per_minute, model=model, extra_env=extra_env
    )
    run = BotRun(fake, seeds, workdir / "bot.log", process)
    try:
        wait_until_polling(fake, process)
        yield run
    finally:
        stop_bot(process)
        fake.close()
    assert TOKEN not in run.log_text(), "the token leaked into the log"
