"""The sessions of the reads on the read database (`DATABASE_READ_URL`, a streaming replica in
production; the primary when unset), read-only. The public reads (open endpoints, reference
data) run in autocommit: each runs one statement, so it needs no transaction of its own: no
BEGIN / COMMIT round trips, no pre-ping, which on a read that answers in a millisecond is most
of the cost. The regulators' reads run several statements in one snapshot
(`SnapshotSession`). A broken pooled connection fails that one request (503) and is discarded
by the pool."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.db import in_utc, session_options
from service.public.cache import MARK
from service.settings import Settings

_lock = threading.Lock()


def make_read_sessionmaker(
    settings: Settings, name: str = "cabin-registry-public"
) -> sessionmaker[Session]:
    engine = create_engine(
        settings.database_read_url or settings.database_url,
        isolation_level="AUTOCOMMIT",
        # No overflow: with one, a burst opened and closed a connection per read beyond the
        # pool, and a new PostgreSQL backend costs far more than the one-statement read it
        # serves. Beyond the pool, reads wait for a pooled connection (pool_timeout). Measured
        # on 2 cores: 10 kept connections per worker serve more than 20 (less contention).
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_connect_timeout_s + 1,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "options": session_options(settings) + " -c default_transaction_read_only=on",
            "application_name": name,
        },
    )
    return sessionmaker(bind=in_utc(engine), expire_on_commit=False, autoflush=False)


def _sessionmaker(request: Request, attribute: str, name: str) -> sessionmaker[Session]:
    """The app's read sessionmaker of that name, made on first use (its own pool)."""
    state = request.app.state
    if getattr(state, attribute, None) is None:
        with _lock:
            if getattr(state, attribute, None) is None:
                setattr(state, attribute, make_read_sessionmaker(state.settings, name))
    made: sessionmaker[Session] = getattr(state, attribute)
    return made


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """The request's read-only session, open until the response (streamed or not) is sent.
    Async on purpose: creating a Session does not connect (the handler's first statement
    does, in the threadpool) and closing one in autocommit sends nothing, so this needs no
    thread hop of its own."""
    session = _sessionmaker(request, "read_sessionmaker", "cabin-registry-public")()
    # This response is built from committed data only: the public cache may keep it.
    setattr(request.state, MARK, True)
    try:
        yield session
    finally:
        session.close()


async def get_regulator_read_session(request: Request) -> AsyncIterator[Session]:
    """The regulators' read session: the same read database, its own pool, so that national
    exports streaming for a minute never hold the connections the open endpoints wait for."""
    session = _sessionmaker(request, "regulator_sessionmaker", "cabin-registry-regulator")()
    try:
        yield session
    finally:
        session.close()


ReadSession = Annotated[Session, Depends(get_read_session)]


def snapshot(session: Session) -> None:
    """Runs the session's next statements in one REPEATABLE READ transaction instead of
    autocommit: a server-side cursor (a streamed body) needs a transaction, and the window's
    ETag and its features then come from the same snapshot. A session already in a
    transaction, or bound to a connection (the tests' session), is left as it is."""
    if isinstance(session.get_bind(), Engine) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def get_snapshot_session(
    session: Annotated[Session, Depends(get_regulator_read_session)],
) -> Session:
    """A read session whose statements share one snapshot (`snapshot`): the regulators'
    reads, on the read database as design.md §7 has them, where a page, a summary's groups
    and its total, or a streamed export must agree with each other. Sync on purpose: taking
    the snapshot connects, which runs in the threadpool, not on the event loop."""
    snapshot(session)
    return session


SnapshotSession = Annotated[Session, Depends(get_snapshot_session)]
