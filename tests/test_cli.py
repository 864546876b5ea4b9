import json
import os
import subprocess
import sys
from pathlib import Path

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
        assert row["highlight"] in row["text"] or all(
            part in row["text"] for part in row["highlight"].split()
        )
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
