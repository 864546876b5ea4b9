import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULT_KEYS = {"passage_id", "text", "highlight", "source", "date", "score"}


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retrieval", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def cli_env(seeds: Path, tmp_path: Path) -> dict[str, str]:
    return {"SEEDS_DIR": str(seeds), "INDEX_DIR": str(tmp_path / "idx"), "EMBEDDING_MODEL": "hash-64"}


def squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_search_json_contract(seeds, tmp_path) -> None:
    env = cli_env(seeds, tmp_path)
    assert run_cli(["build"], env).returncode == 0
    done = run_cli(["search", "--k", "5", "--json", "Какие порты соединит кабель по дну Каспия?"], env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"query", "abstained", "confidence", "results"}
    assert payload["query"] == "Какие порты соединит кабель по дну Каспия?"
    assert isinstance(payload["abstained"], bool)
    assert len(payload["results"]) == 5
    for row in payload["results"]:
        assert set(row) == RESULT_KEYS
        # The highlight is a run of the passage's own sentences, joined by single spaces.
        assert row["highlight"].strip()
        assert squeezed(row["highlight"]) in squeezed(row["text"])
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)
    assert "Актау и Алят" in payload["results"][0]["text"]
    dates = {r["source"]: r["date"] for r in payload["results"]}
    assert all(d is None or len(d) == 10 for d in dates.values())


def test_search_jsonl_keeps_order(seeds, tmp_path) -> None:
    questions = ["Сколько соглашений подписали?", "Кто такой Рустем Бектрумов?", "Сколько стоит биткоин?"]
    done = run_cli(["search", "--k", "2", "--jsonl"], cli_env(seeds, tmp_path), "\n".join(questions) + "\n")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["query"] for r in rows] == questions
    assert all(len(r["results"]) == 2 for r in rows)


def test_undated_article_has_null_date(seeds, tmp_path) -> None:
    done = run_cli(
        ["search", "--k", "1", "--json", "Minval Politika обратилась за комментариями"],
        cli_env(seeds, tmp_path),
    )
    row = json.loads(done.stdout)["results"][0]
    assert row["source"] == "Minval Politika"
    assert row["date"] is None


def test_broken_corpus_gives_clear_error(seeds, tmp_path) -> None:
    (seeds / "bad.txt").write_bytes(b"\xff\xfe\x00\x00broken")
    done = run_cli(["build"], cli_env(seeds, tmp_path))
    assert done.returncode == 2
    assert "bad.txt" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "settings", "message"),
    [
        (["search", "--k", "0", "вопрос"], {}, "argument --k: 0 is outside 1..100"),
        (["search", "--k", "-1", "вопрос"], {}, "argument --k: -1 is outside 1..100"),
        (["search", "--k", "три", "вопрос"], {}, "argument --k: 'три' is not a whole number"),
        (["eval", "no-such-eval.jsonl"], {}, "no such file: 'no-such-eval.jsonl'"),
        (["bench", "--sizes", "1000,x"], {}, "'1000,x' is not a comma-separated list"),
        (["search", "вопрос"], {"TOP_K": "50"}, "TOP_K: Input should be less than or equal to 20 (got '50')"),
        (["search", "вопрос"], {"TOP_K": "0"}, "TOP_K: Input should be greater than or equal to 1"),
        (["build"], {"INDEX_DIR": "README.md"}, "INDEX_DIR: Value error, 'README.md' exists and is not"),
    ],
)
def test_bad_arguments_and_settings_end_in_one_line(seeds, tmp_path, args, settings, message) -> None:
    done = run_cli(args, {**cli_env(seeds, tmp_path), **settings})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "idx").exists()  # nothing was built or searched


def test_no_command_prints_help_instead_of_searching(seeds, tmp_path) -> None:
    done = run_cli([], cli_env(seeds, tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m retrieval")
    assert all(command in done.stderr for command in ("build", "search", "eval", "bench"))
    assert done.stdout == "" and not (tmp_path / "idx").exists()


def test_search_jsonl_takes_follow_ups_with_context(seeds, tmp_path) -> None:
    follow_up = "а когда его достроят?"
    lines = [
        json.dumps({"q": follow_up, "context": "Какие порты соединит подводный кабель по дну Каспия?"}),
        follow_up,
        json.dumps({"q": "Сколько стоит биткоин?"}),
    ]
    done = run_cli(["search", "--k", "3", "--jsonl"], cli_env(seeds, tmp_path), "\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    with_context, alone, plain = (json.loads(line) for line in done.stdout.splitlines())
    assert with_context["query"] == alone["query"] == follow_up
    assert plain["query"] == "Сколько стоит биткоин?"
    # the previous question steers the search: the cable passage comes first only with it
    assert "Актау и Алят" in with_context["results"][0]["text"]
    assert [r["passage_id"] for r in with_context["results"]] != [r["passage_id"] for r in alone["results"]]
    for row in (with_context, alone, plain):
        assert row["confidence"] in {"high", "low", "none"}
        assert row["abstained"] == (row["confidence"] == "none")


def test_build_removes_what_a_crashed_build_left(seeds, tmp_path) -> None:
    env = cli_env(seeds, tmp_path)
    assert run_cli(["build"], env).returncode == 0
    crashed = tmp_path / "idx" / ".building-999999999-crashed"  # a pid no process has
    crashed.mkdir()
    (crashed / "vectors.npy").write_bytes(b"half written")
    done = run_cli(["build"], env)
    assert done.returncode == 0, done.stderr
    assert not crashed.exists()
    assert ".building-999999999-crashed" in done.stdout
