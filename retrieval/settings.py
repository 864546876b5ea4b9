"""Settings of the retrieval commands, from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrieval.embedder import DEFAULT_MODEL


class RetrievalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path(".index")
    embedding_model: str = DEFAULT_MODEL
    top_k: int = Field(default=3, ge=1, le=20)
