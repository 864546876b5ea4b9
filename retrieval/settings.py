"""Settings of the retrieval commands, from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.embedder import DEFAULT_MODEL

MAX_TOP_K = 20


class RetrievalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path(".index")
    embedding_model: str = DEFAULT_MODEL
    top_k: int = Field(default=3, ge=1, le=MAX_TOP_K)
    # Process-wide, applied once by retrieval.runtime.apply_runtime at each entry point.
    hf_hub_offline: bool = True  # no model hub requests; set false to load hub ids
    faiss_threads: int = Field(default=1, ge=1, le=256)  # one thread per query is fastest
    # One OpenMP thread per encode, and then one encode per core at once: with two-thread
    # encodes on two busy cores, their teams stall each other (README, Performance). 0: the
    # engine's own default (all cores, one encode at a time), for a machine that only builds.
    encoder_threads: int = Field(default=1, ge=0, le=256)

    @field_validator("index_dir")
    @classmethod
    def _index_dir_is_a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{str(value)!r} exists and is not a folder")
        return value


def settings_problems(error: ValidationError) -> str:
    """One line naming each bad setting by its environment variable, e.g. `TOP_K: ...`, quoting
    the bad value unless the setting is a secret."""
    problems = []
    for e in error.errors():
        name = ".".join(map(str, e["loc"])).upper()
        secret = "TOKEN" in name or "SECRET" in name
        problems.append(f"{name}: {e['msg']}" + ("" if secret else f" (got {e['input']!r})"))
    return "; ".join(problems)
