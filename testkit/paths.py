"""Repository paths the tests and benchmarks use."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
PUBLIC_EVAL = ROOT / "tests" / "data" / "questions.public.jsonl"  # copy of the public eval set
