"""The test harness: a real PostgreSQL + PostGIS test database, migrated with Alembic once per
run and loaded with the reference layers; each test inside an outer transaction rolled back at
teardown, with the app's session bound to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from service.app import create_app
from service.db import get_session
from service.reads import get_read_session, get_regulator_read_session
from service.rules import plan as planning
from service.settings import Settings, get_settings


def resolve_test_database_url() -> str:
    """TEST_DATABASE_URL, else DATABASE_URL's cluster with `<name>_test`, else the local one."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url
    if url := os.environ.get("DATABASE_URL"):
        parsed = make_url(url)
        return parsed.set(database=f"{parsed.database}_test").render_as_string(hide_password=False)
    from service.localdb import TEST_DATABASE_NAME, project_cluster

    return project_cluster().url(TEST_DATABASE_NAME)


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command
    from service.cli import alembic_config

    config = alembic_config()
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


@pytest.fixture(scope="session")
def database_url() -> str:
    url = resolve_test_database_url()
    # Every settings read from here on (the CLI steps below, the app) sees the test database,
    # never the development one the caller's DATABASE_URL names.
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    ensure_database(url)
    migrate(url)
    from service.cli import setup_steps

    for _title, step in setup_steps(include_demo=False):
        step()
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    from service.db import make_engine

    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test. The plans of
    published rule sets, cached per process by version and publication time, are forgotten
    with it: another test may publish the same version at the same time with other rules."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        planning.forget_plans()


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    def session_for_test() -> Iterator[Session]:
        # The request's transaction is a savepoint inside the test's outer transaction:
        # committed on success, rolled back on error, as the real dependency does.
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    async def read_session_for_test() -> AsyncIterator[Session]:
        yield db  # the public reads see what the test wrote in its transaction

    app.dependency_overrides[get_session] = session_for_test
    app.dependency_overrides[get_read_session] = read_session_for_test
    app.dependency_overrides[get_regulator_read_session] = read_session_for_test
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.dependency_overrides.clear()


class ApiKeys:
    """Valid keys for the protected routes, so the property-based run goes past 401. Each
    domain that protects routes adds its keys here. Keys are made on first use, in the test's
    session (rolled back after the test)."""

    # path prefix → role whose key the run sends (first match wins)
    ROLES_BY_PATH: tuple[tuple[str, str], ...] = (
        ("/v1/operators", "admin"),
        ("/v1/clients", "admin"),
        ("/v1/cabins", "operator"),
        ("/v1/imports", "operator"),
        ("/v1/rule-sets", "admin"),
        ("/v1/checks", "operator"),
        ("/v1/compliance", "regulator"),
    )

    def __init__(self, db: Session) -> None:
        self.db = db
        self._keys: dict[str, str] = {}

    def key(self, role: str) -> str:
        if role not in self._keys:
            from tests.auth.factories import make_key, make_operator

            operator_id = make_operator(self.db) if role == "operator" else None
            scope = "national" if role == "regulator" else None
            self._keys[role] = make_key(self.db, role, operator_id=operator_id, scope=scope)
            self.db.commit()  # releases the savepoint only: a failed request keeps the key
        return self._keys[role]

    def for_case(self, case: object) -> dict[str, str]:
        path = str(getattr(getattr(case, "operation", None), "path", ""))
        for prefix, role in self.ROLES_BY_PATH:
            if path.startswith(prefix):
                return {"Authorization": f"Bearer {self.key(role)}"}
        return {}


@pytest.fixture
def api_keys(db: Session) -> ApiKeys:
    return ApiKeys(db)


@pytest.fixture
def committed_operator(engine: Engine) -> Iterator[uuid.UUID]:
    """An operator committed on its own connection, for tests that run several transactions
    (the cabins they insert outlive the test's rolled-back one): its cabins, with their verdict
    history, and the operator are deleted afterwards."""
    from service.auth.models import Operator
    from service.cabins.models import Cabin
    from service.rules.models import VerdictChange
    from tests.auth.factories import make_operator

    with Session(engine) as session:
        operator_id = make_operator(session, "Opérateur aux transactions séparées")
        session.commit()
    yield operator_id
    with Session(engine) as session:
        ids = select(Cabin.id).where(Cabin.operator_id == operator_id)
        session.execute(delete(VerdictChange).where(VerdictChange.cabin_id.in_(ids)))
        session.execute(delete(Cabin).where(Cabin.operator_id == operator_id))
        session.execute(delete(Operator).where(Operator.id == operator_id))
        session.commit()
