"""Reply latency and load of the real bot process through the local fake Bot API.

    python -m benchmarks.bot_load                  # latency over the public eval questions, then load
    python -m benchmarks.bot_load --users 1,10,50 --questions 30 --json

Latency: one user asks every public eval question in turn; the time from the update
being offered to the bot to the first message of its answer. Load: N simulated users
ask concurrently, each in a closed loop (ask, wait for the answer, ask again);
throughput, latency p50/p95, and a check that every question got exactly one answer.

The load repeats the public questions, so after the latency run the bot finds their
vectors in its query cache (QUERY_CACHE). A last run starts a second bot with the cache
off and repeats the largest load, so that every question is encoded: the cost of a bot
whose users never ask the same thing twice.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from retrieval.bench import markdown_table
from testkit.botrun import copy_seeds, running_bot
from testkit.fake_telegram import FakeTelegram
from testkit.paths import PUBLIC_EVAL

ANSWER_TIMEOUT = 120.0
LOAD_COLUMNS = (
    ("run", "run"),
    ("questions", "questions"),
    ("throughput /s", "throughput_per_s"),
    ("reply p50 ms", "reply_p50_ms"),
    ("reply p95 ms", "reply_p95_ms"),
    ("answered once", "answered_once"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
)


def questions() -> list[str]:
    return [json.loads(line)["q"] for line in PUBLIC_EVAL.read_text("utf-8").splitlines() if line.strip()]


def ask_and_wait(fake: FakeTelegram, user: int, text: str) -> tuple[float, int]:
    """Seconds until the first message of the answer (inf if none came), and the question's id."""
    started = time.monotonic()  # the clock the fake stamps sent messages with
    message = fake.send_text(user, text)
    replies = fake.wait_for_reply(message["message_id"], ANSWER_TIMEOUT)
    return (replies[0].at - started if replies else float("inf")), message["message_id"]


def latency_run(fake: FakeTelegram, user: int) -> dict:
    timings = [ask_and_wait(fake, user, text)[0] for text in questions()]
    return summary("latency (1 user, public eval questions)", 1, timings, 0.0, len(timings))


def load_run(fake: FakeTelegram, users: int, per_user: int, first_user: int) -> dict:
    pool = questions()
    timings: list[float] = []
    asked: list[int] = []
    lock = threading.Lock()

    def user_loop(user: int) -> None:
        for i in range(per_user):
            seconds, message_id = ask_and_wait(fake, user, pool[(user + i) % len(pool)])
            with lock:
                timings.append(seconds)
                asked.append(message_id)

    threads = [threading.Thread(target=user_loop, args=(first_user + u,)) for u in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    time.sleep(1.0)  # late duplicates would arrive by now
    row = summary(f"{users} concurrent users", users, timings, wall, users * per_user)
    answers = [len(fake.replies_to(message_id)) for message_id in asked]
    row["answered_once"] = sum(1 for c in answers if c == 1)
    row["lost"] = sum(1 for c in answers if c == 0)
    row["duplicated"] = sum(1 for c in answers if c > 1)
    return row


def summary(label: str, users: int, timings: list[float], wall: float, asked: int) -> dict:
    done = [t for t in timings if t != float("inf")]
    return {
        "run": label,
        "users": users,
        "questions": asked,
        "throughput_per_s": round(len(done) / wall, 2) if wall else None,
        "reply_p50_ms": round(float(np.percentile(done, 50)) * 1000, 1) if done else None,
        "reply_p95_ms": round(float(np.percentile(done, 95)) * 1000, 1) if done else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--questions", type=int, default=30, help="questions per user in the load runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    user_counts = [int(u) for u in args.users.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="bot-load-"))
    try:
        with running_bot(workdir / "cached", copy_seeds(workdir), per_minute=100_000) as bot:
            rows = [latency_run(bot.fake, 1)]
            for n, users in enumerate(user_counts):
                rows.append(load_run(bot.fake, users, args.questions, first_user=1000 * (n + 1)))
            rows[0]["rejected_by_api"] = len(bot.fake.rejected)
        uncached = {"QUERY_CACHE": "0"}
        with running_bot(workdir / "uncached", workdir / "seeds", 100_000, extra_env=uncached) as bot:
            row = load_run(bot.fake, max(user_counts), args.questions, first_user=1000 * (len(rows) + 1))
            row["run"] += ", every question encoded (QUERY_CACHE=0)"
            rows.append(row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(markdown_table(LOAD_COLUMNS, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
