"""Engine, the declarative base, and the request's session: one transaction per request,
committed once on success and rolled back on any exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from service.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def session_options(settings: Settings) -> str:
    """Every connection's settings given at connection: the statement timeout, and a lock
    timeout a tenth under it. The lock timeout bounds each wait for a lock: a statement that
    begins by waiting (behind a publication, a full pass, a large import: the chain, the rule
    set in force, a cabin's row) ends as a wait (SQLSTATE 55P03, `errors.waited_for_lock`),
    not as a statement that asked for too much work; a wait that opens late in a long
    statement may still meet the statement timeout first."""
    timeout_ms = settings.db_statement_timeout_ms
    return f"-c statement_timeout={timeout_ms} -c lock_timeout={lock_timeout_ms(timeout_ms)}"


def lock_timeout_ms(statement_timeout_ms: int) -> int:
    """A tenth under the statement timeout (0, no limit, stays 0): reached first by a wait."""
    return statement_timeout_ms - statement_timeout_ms // 10


def in_utc(engine: Engine) -> Engine:
    """Each new connection of the engine set to UTC, so that instants are written `Z` in
    every answer and export and dates are cut at UTC midnight, whatever the server's zone or
    the client environment's (libpq applies PGTZ after the connection's own options)."""

    @event.listens_for(engine, "connect")
    def _utc(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()  # kept: the pool's rollback on return would undo it

    return engine


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    engine = create_engine(
        url or settings.database_url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_connect_timeout_s + 1,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "options": session_options(settings),
            "application_name": "cabin-registry",
        },
    )
    return in_utc(engine)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def get_session(request: Request) -> Iterator[Session]:
    """The request's session. Commits once when the handler returns, rolls back otherwise."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session, scope="function")]
"""A handler's session: the transaction is committed before the response leaves, so a failed
commit is an error response, never a 2xx for data that was not written."""


@contextmanager
def local_setting(session: Session | Connection, name: str, value: str | None) -> Iterator[None]:
    """PostgreSQL's setting `name` at `value` for the statements run inside (None: unchanged),
    set for the transaction and put back after them. A statement that fails inside aborts the
    transaction, which drops the setting with it: nothing is put back then."""
    if value is None:
        yield
        return
    set_config = text("SELECT set_config(:name, :value, true)")
    callers = session.scalar(text("SELECT current_setting(:name)"), {"name": name})
    session.execute(set_config, {"name": name, "value": value})
    yield
    session.execute(set_config, {"name": name, "value": callers})
