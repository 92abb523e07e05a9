"""Settings from the environment (pydantic-settings); one object, passed to `create_app`."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/registry",
        description="SQLAlchemy URL of the primary database.",
    )
    database_read_url: str | None = Field(
        default=None, description="Optional read replica for public and regulator reads."
    )
    port: int = 8000
    host: str = "127.0.0.1"
    log_level: str = "info"
    db_connect_timeout_s: int = 2
    db_statement_timeout_ms: int = 30_000
    db_pool_size: int = 10
    max_body_bytes: int = 50 * 1024 * 1024
    page_size_default: int = 100
    page_size_max: int = 1000
    bulk_max_rows: int = 500_000
    max_search_radius_m: int = 200_000
    public_rate_limit_per_minute: int = 600
    public_rate_limit_burst: int = Field(
        default=300, description="Requests a client IP may send at once on /public and /ogc."
    )
    public_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        description="Rendered public responses kept per worker process, emptied on every change"
        " of the public data (LISTEN public_data); 0 turns the cache off.",
    )
    public_bbox_max_span_deg: float = Field(
        default=2.0, description="Largest map window of /public/cabins, degrees on each side."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
