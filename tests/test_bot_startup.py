import os
import re
import subprocess
import sys

import pytest

from bot import texts
from bot.config import BotSettings
from bot.questions import question_problem
from bot.ratelimit import FloodLimiter

from .conftest import ROOT


def run_bot(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "ADMIN_IDS")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**base, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def russian_console_output(seeds, tmp_path, stdin: str) -> str:
    """What the console prints for these lines over the seed corpus (hash embedder), in a
    terminal of no language (so Russian)."""
    env = {"SEEDS_DIR": str(seeds), "INDEX_DIR": str(tmp_path / "idx"), "EMBEDDING_MODEL": "hash-64"}
    done = run_bot(["--console"], env | {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}, stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("token", ["", "not-a-token", "123:short"])
def test_missing_or_malformed_token_gives_one_clear_line(token: str, tmp_path) -> None:
    done = run_bot([], {"TELEGRAM_BOT_TOKEN": token, "INDEX_DIR": str(tmp_path / "idx")})
    assert done.returncode == 2
    assert "BotFather" in done.stderr and "--console" in done.stderr
    assert "Traceback" not in done.stderr
    if token:
        assert token not in done.stderr


def test_console_answers_without_telegram(seeds, tmp_path) -> None:
    out = russian_console_output(seeds, tmp_path, "Какие порты соединит подводный кабель?\nещё\n\n")
    assert "Актау и Алят" in out
    assert "Источник:" in out and "2025 г." in out
    assert "Ещё по вопросу" in out  # "ещё" showed the next passages


def test_console_names_a_speaker_introduced_in_an_earlier_paragraph(seeds, tmp_path) -> None:
    # "Отдельно депутат выделил тему энергетики. По его словам, …": named two paragraphs before
    out = russian_console_output(
        seeds, tmp_path, "депутат выделил тему энергетики экспорт энергоресурсов\n\n"
    )
    assert "Отдельно депутат выделил тему энергетики" in out
    assert "— Гусейнов" in out


def test_console_answers_small_talk_as_telegram_does(seeds, tmp_path) -> None:
    out = russian_console_output(seeds, tmp_path, "Привет!\nспасибо\n\n")
    t = texts.for_language("ru")
    assert re.sub("<[^>]+>", "", t.thanks_reply) in out
    assert "Источник:" not in out  # no search for a greeting or thanks
    assert out.count("Примеры:") == 2  # the start, and after the greeting


def test_console_lists_the_topics_offered_when_nothing_answers(seeds, tmp_path) -> None:
    out = russian_console_output(seeds, tmp_path, "xyzzy plugh\n\n")
    t = texts.for_language("ru")
    assert re.sub("<[^>]+>", "", t.no_answer_suggest) in out
    after = out.split(re.sub("<[^>]+>", "", t.no_answer_suggest), 1)[1]
    assert re.search(r"^  \[[^\]]+\]$", after, re.MULTILINE)  # the buttons Telegram would show


@pytest.mark.parametrize(
    ("args", "locale", "expected"),
    [
        ([], "en_GB.UTF-8", "Examples:"),
        (["--lang", "kk"], "en_GB.UTF-8", "Мысалдар:"),
        ([], "de_DE.UTF-8", "Примеры:"),
    ],
)
def test_console_speaks_the_terminals_language(seeds, tmp_path, args, locale, expected) -> None:
    env = {"SEEDS_DIR": str(seeds), "INDEX_DIR": str(tmp_path / "idx"), "EMBEDDING_MODEL": "hash-64"}
    done = run_bot(["--console", *args], env | {"LC_ALL": "", "LC_MESSAGES": "", "LANG": locale}, "\n")
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


@pytest.mark.parametrize(
    ("raw", "expected"), [("1,2", {1, 2}), ("[3, 4]", {3, 4}), ("", set()), (" 5 ", {5})]
)
def test_admin_ids_formats(raw: str, expected: set[int], monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", raw)
    assert BotSettings(_env_file=None).admin_ids == expected


def test_token_is_secret_in_repr(monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-secret-secret-secret-secret")
    settings = BotSettings(_env_file=None)
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
    assert settings.token_problem() is None


def test_flood_limiter_allows_n_per_minute() -> None:
    now = [0.0]
    limiter = FloodLimiter(3, clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.check(1) == pytest.approx(60.0)
    assert limiter.check(2) == 0.0  # other users are not affected
    now[0] = 61.0
    assert limiter.check(1) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "словами"),
        ("   ", "словами"),
        ("😀😀😀", "словами"),
        ("?!", "словами"),
        ("а", "короткий"),
        ("x" * 1001, "длинный"),
        ("Что такое Средний коридор?", None),
        ("2025", None),
    ],
)
def test_question_problems(text: str, expected: str | None) -> None:
    problem = question_problem(text, 1000, texts.RU)
    assert (problem is None) if expected is None else (expected in problem)


def test_benchmarks_share_the_test_helpers_without_importing_the_test_suite() -> None:
    probe = (
        "import sys, benchmarks.bot_load; print(sorted(m for m in sys.modules if m.split('.')[0] == 'tests'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_flood_limiter_forgets_users_after_the_window() -> None:
    now = [0.0]
    limiter = FloodLimiter(2, clock=lambda: now[0])
    for user in range(10_000):
        limiter.check(user)
        now[0] += 0.01  # 10,000 distinct users over 100 s
    assert len(limiter) <= 60 / 0.01 + 1  # only the last minute's users are kept
    now[0] += 61
    limiter.check(1)
    assert len(limiter) == 1
    assert [limiter.check(1), limiter.check(1) > 0] == [0.0, True]  # the limit still holds


def test_every_setting_is_documented_in_the_env_example() -> None:
    example = (ROOT / ".env.example").read_text("utf-8")
    documented = {line.split("=", 1)[0] for line in example.splitlines() if re.match(r"^[A-Z_]+=", line)}
    assert {name.upper() for name in BotSettings.model_fields} <= documented


def test_runtime_settings_are_applied_once_at_the_entry_point() -> None:
    probe = (
        "import os, faiss\n"
        "from retrieval.runtime import apply_runtime\n"
        "from retrieval.settings import RetrievalSettings\n"
        "apply_runtime(RetrievalSettings(_env_file=None))\n"
        "print(os.environ['HF_HUB_OFFLINE'], os.environ.get('OMP_NUM_THREADS'))\n"
        "print(faiss.omp_get_max_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "OMP_NUM_THREADS")}
    env.update({"HF_HUB_OFFLINE": "false", "FAISS_THREADS": "2", "ENCODER_THREADS": "3"})
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "3", "2"]


def test_only_the_runtime_module_writes_the_environment() -> None:
    write = re.compile(r"os\.environ(\[[^\]]+\]\s*=[^=]|\.(setdefault|update|pop|clear)\()|os\.putenv")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "retrieval", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "runtime.py" and write.search(path.read_text("utf-8"))
    ]
    assert offenders == []
