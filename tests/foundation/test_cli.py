"""The `registry` command's own plumbing: the engine its commands open."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.cli import LONG_STATEMENT_TIMEOUT_MS, cli_engine
from service.settings import get_settings


def _statement_timeout(statement_timeout_ms: int | None = None) -> str:
    with cli_engine(statement_timeout_ms) as engine, engine.connect() as conn:
        return str(conn.execute(text("SHOW statement_timeout")).scalar_one())


def test_cli_engine_takes_the_request_timeout_unless_told_otherwise(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "1234")
    assert _statement_timeout() == "1234ms"
    assert _statement_timeout(LONG_STATEMENT_TIMEOUT_MS) == "10min"


def test_cli_engine_reads_the_environment_when_called_not_the_cached_settings(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_settings()  # cached with the test database
    other = make_url(database_url).set(database="postgres")
    monkeypatch.setenv("DATABASE_URL", other.render_as_string(hide_password=False))
    with cli_engine() as engine, engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar_one() == "postgres"
