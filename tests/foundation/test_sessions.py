"""Every connection the service opens (writes and reads) runs in UTC with the statement
timeout and the lock timeout under it, whatever the client environment's time zone: instants
are written `Z` in answers and exports, also after the pool has rolled a connection back."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service.db import lock_timeout_ms, make_engine
from service.reads import make_read_sessionmaker
from service.settings import Settings


def test_sessions_are_utc_whatever_pgtz_says(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGTZ", "Europe/Paris")  # libpq sets the session's zone from it
    engine = make_engine(settings)
    reads = make_read_sessionmaker(settings)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW timezone")).scalar() == "UTC"
            stamp = connection.execute(text("SELECT CAST(now() AS text)")).scalar()
            assert stamp is not None and stamp.endswith("+00")
            timeout = "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'"
            assert connection.execute(text(timeout)).scalar() == str(
                settings.db_statement_timeout_ms
            )
            # a wait for a lock is cut first: a write behind a long one, not a long statement
            locks = "SELECT setting FROM pg_settings WHERE name = 'lock_timeout'"
            assert connection.execute(text(locks)).scalar() == str(
                lock_timeout_ms(settings.db_statement_timeout_ms)
            )
        with engine.connect() as connection:  # the same pooled connection, rolled back
            assert connection.execute(text("SHOW timezone")).scalar() == "UTC"
        with reads() as session:
            assert session.execute(text("SHOW timezone")).scalar() == "UTC"
    finally:
        engine.dispose()
        reads.kw["bind"].dispose()
