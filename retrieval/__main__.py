"""Command line: build, search, eval, bench (README.md, "Retrieval commands", has the JSON contract)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from retrieval.errors import RetrievalError
from retrieval.results import SearchResult
from retrieval.runtime import apply_runtime, quiet_noisy_loggers
from retrieval.settings import RetrievalSettings, settings_problems

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


MAX_K = 100  # passages per question on the command line


def _count(limit: int):
    """An argparse type: a whole number from 1 to `limit`, with a message quoting a bad value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"{value} is outside 1..{limit}")
        return value

    return parse


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 1")
    return sizes


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return path


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end in one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m retrieval", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("build", help="build the index from SEEDS_DIR into INDEX_DIR")
    search = commands.add_parser("search", help="answer questions with passages")
    search.add_argument("query", nargs="?", help="the question (omit with --jsonl)")
    search.add_argument("--k", type=_count(MAX_K), default=None, help="passages per question (default TOP_K)")
    mode = search.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print one JSON object")
    mode.add_argument("--jsonl", action="store_true", help="one question per stdin line, one JSON line out")
    evaluate = commands.add_parser("eval", help="quality report on an eval .jsonl file")
    evaluate.add_argument("file", type=_existing_file)
    evaluate.add_argument("--k", type=_count(MAX_K), default=10)
    fit = commands.add_parser("fit", help="cross-validate fusion weights and confidence thresholds")
    fit.add_argument("files", type=_existing_file, nargs="+")
    fit.add_argument("--write", action="store_true", help="save the choice as the model's calibration")
    fit.add_argument(
        "--shift-only",
        type=_existing_file,
        nargs="+",
        default=[],
        metavar="FILE",
        help="questions for the language shifts only, not the weights, highlights or thresholds",
    )
    bench = commands.add_parser("bench", help="scale benchmark on a synthetic corpus")
    bench.add_argument(
        "--sizes", type=_sizes, default="1000,10000,100000", help="comma-separated passage counts"
    )
    bench.add_argument("--json", action="store_true", help="one JSON object per size")
    bench.add_argument("--queries", type=_count(100_000), default=200)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on success, 2 with one line on stderr for bad arguments, settings or input."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_noisy_loggers()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        settings = RetrievalSettings()
    except ValidationError as exc:
        print(f"error: bad settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    apply_runtime(settings)
    try:
        return _run(args, settings)
    except (RetrievalError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: RetrievalSettings) -> int:
    from retrieval.embedder import load_embedder
    from retrieval.engine import open_retriever
    from retrieval.index import build_index, remove_leftovers
    from retrieval.text import Analyzer

    if args.command == "bench":
        from retrieval.bench import run_bench

        return run_bench(settings, args.sizes, args.json, args.queries)
    embedder = load_embedder(settings.embedding_model)
    analyzer = Analyzer()
    if args.command == "build":
        removed = remove_leftovers(settings.index_dir)  # what crashed builds left behind
        if removed:
            print(f"removed leftovers of earlier builds: {', '.join(sorted(removed))}")
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
    if args.command == "fit":
        from retrieval.embedder import calibration_path
        from retrieval.evaluate import load_questions
        from retrieval.fit import fit

        result = fit(
            retriever,
            [q for path in args.files for q in load_questions(path)],
            shift_only=[q for path in args.shift_only for q in load_questions(path)],
        )
        print(result.report)
        target = calibration_path(settings.embedding_model)
        if args.write and target is None:
            print(f"error: {settings.embedding_model} is not a local model folder", file=sys.stderr)
            return 2
        if args.write:
            target.write_text(json.dumps(result.calibration, indent=1) + "\n", "utf-8")
            print(f"wrote {target}")
        return 0
    k = args.k if args.k is not None else settings.top_k
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
