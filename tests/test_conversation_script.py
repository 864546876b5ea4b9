"""The scripted conversation (benchmarks/conversation.py) against the real bot, fake embedder."""

import json
from pathlib import Path

from benchmarks import conversation


def test_scripted_conversation_reports_every_question_and_keeps_follow_ups_in_context(
    tmp_path: Path, capsys
) -> None:
    rows = [json.loads(line) for line in conversation.REALISTIC.read_text("utf-8").splitlines()]
    chosen = [
        next(r for r in rows if r["kind"] == kind) for kind in ("factoid", "crosslingual", "unanswerable")
    ]
    chosen += [r for r in rows if r.get("context")][:2]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), "utf-8")
    transcripts = tmp_path / "turns.jsonl"
    assert conversation.main([str(questions), "--model", "hash-64", "--transcripts", str(transcripts)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == [r["id"] for r in chosen]
    result = json.loads(out[-1])
    assert result["questions"] == len(chosen) and result["follow_ups"] == 2
    assert result["follow_ups_without_context"] == []
    assert sum(result["confidence"].values()) == len(chosen) and result["confidence"]["other"] == 0
    turns = [json.loads(line) for line in transcripts.read_text("utf-8").splitlines()]
    english = next(t for t in turns if t["lang"] == "en")
    assert (
        "Source: " in english["reply"]
        or "Author: " in english["reply"]
        or "do not answer" in english["reply"]
    )
