"""Command line: build, search, eval, bench (see DESIGN.md for the contracts)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from retrieval.errors import RetrievalError
from retrieval.results import SearchResult

log = logging.getLogger("retrieval")


def result_to_json(result: SearchResult) -> dict:
    return {
        "query": result.query,
        "abstained": result.abstained,
        "confidence": result.confidence,
        "results": [
            {
                "passage_id": hit.passage.passage_id,
                "text": hit.passage.text,
                "highlight": hit.highlight_text,
                "source": hit.article.label(),
                "date": hit.article.date.isoformat() if hit.article.date else None,
                "score": round(hit.score, 4),
            }
            for hit in result.hits
        ],
    }


def parse_jsonl_question(line: str) -> tuple[str, str | None]:
    """A --jsonl input line: a plain question, or {"q": ..., "context": previous question}."""
    if line.lstrip().startswith("{"):
        try:
            row = json.loads(line)
        except ValueError:
            return line, None
        if isinstance(row, dict) and isinstance(row.get("q"), str):
            context = row.get("context")
            return row["q"], context if isinstance(context, str) and context.strip() else None
    return line, None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("build", help="build the index from SEEDS_DIR into INDEX_DIR")
    search = commands.add_parser("search", help="answer questions with passages")
    search.add_argument("query", nargs="?", help="the question (omit with --jsonl)")
    search.add_argument("--k", type=int, default=None, help="passages per question (default TOP_K)")
    mode = search.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print one JSON object")
    mode.add_argument("--jsonl", action="store_true", help="one question per stdin line, one JSON line out")
    evaluate = commands.add_parser("eval", help="quality report on an eval .jsonl file")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--k", type=int, default=10)
    bench = commands.add_parser("bench", help="scale benchmark on a synthetic corpus")
    bench.add_argument("--sizes", default="1000,10000,100000", help="comma-separated passage counts")
    bench.add_argument("--json", action="store_true", help="one JSON object per size")
    bench.add_argument("--queries", type=int, default=200)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "httpx", "huggingface_hub", "transformers", "pymorphy3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = _parser().parse_args(argv)
    if args.command is None:
        args = _parser().parse_args(["search", "Сколько соглашений подписали в ходе визита?"])
    try:
        return _run(args)
    except RetrievalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from retrieval.embedder import load_embedder
    from retrieval.engine import open_retriever
    from retrieval.index import build_index
    from retrieval.settings import RetrievalSettings
    from retrieval.text import Analyzer

    settings = RetrievalSettings()
    if args.command == "bench":
        from retrieval.bench import run_bench

        return run_bench(settings, [int(s) for s in args.sizes.split(",")], args.json, args.queries)
    embedder = load_embedder(settings.embedding_model)
    analyzer = Analyzer()
    if args.command == "build":
        report = build_index(settings.seeds_dir, settings.index_dir, embedder, analyzer)
        m = report.manifest
        print(
            f"built {settings.index_dir}: {m.articles} articles, {m.passages} passages, "
            f"model {m.model} ({m.dimension}d, {m.dense_index}) in {m.build_seconds:.1f}s"
        )
        return 0
    retriever, _ = open_retriever(settings.seeds_dir, settings.index_dir, embedder, analyzer)
    if args.command == "eval":
        from retrieval.evaluate import evaluate, load_questions

        report = evaluate(load_questions(args.file), lambda q, c: retriever.search(q, args.k, context=c))
        print(report.render())
        return 0
    k = args.k or settings.top_k
    if args.jsonl:
        for line in sys.stdin:
            query, context = parse_jsonl_question(line.rstrip("\n"))
            result = retriever.search(query, k, context=context)
            print(json.dumps(result_to_json(result), ensure_ascii=False), flush=True)
        return 0
    if not args.query:
        print("error: give a question, or use --jsonl to read questions from stdin", file=sys.stderr)
        return 2
    result = retriever.search(args.query, k)
    if args.json:
        print(json.dumps(result_to_json(result), ensure_ascii=False))
    else:
        print(_plain(result))
    return 0


def _plain(result: SearchResult) -> str:
    lines = [f"? {result.query}"]
    if result.abstained:
        lines.append("(no answer in the articles; closest passages below)")
    for n, hit in enumerate(result.hits, 1):
        date = hit.article.date.isoformat() if hit.article.date else "no date"
        lines += ["", f"{n}. [{hit.article.label()}, {date}] score {hit.score:.3f}", hit.passage.text]
        lines.append(f"   >> {hit.highlight_text}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
