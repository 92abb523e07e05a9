"""The published contract and the migrations stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from alembic import command
from service.cli import alembic_config, openapi_document, render_openapi
from tests.conftest import ensure_database

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_yaml_is_current() -> None:
    published = (ROOT / "openapi.yaml").read_text()
    assert published == render_openapi(), "openapi.yaml is stale: run `registry openapi --write`"


# Operations that answer from the code alone, without the database.
WITHOUT_DATABASE = {
    ("get", "/ogc"),
    ("get", "/ogc/conformance"),
    ("get", "/ogc/collections/{collectionId}/queryables"),
}


def test_the_contract_documents_the_problems_every_operation_may_answer() -> None:
    """A client generated from openapi.yaml expects the service's plumbing answers too: 503
    when the database is down or too slow, 413 (and 415 for JSON) for a body, 400 for an
    unknown query parameter on the API."""
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            where = f"{method.upper()} {path}"
            if (method, path) not in WITHOUT_DATABASE:
                assert "503" in documented, where
            if "requestBody" in operation:
                assert "413" in documented, where
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert "415" in documented, where
            if path.startswith(("/v1/", "/public/")):
                assert "400" in documented, where


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.check(config)  # raises when autogenerate would emit operations


def test_downgrade_then_upgrade_round_trip(database_url: str) -> None:
    """On a scratch database, so the loaded test database keeps its reference layers."""
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_migrations")
    scratch = url.render_as_string(hide_password=False)
    ensure_database(scratch)
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", scratch.replace("%", "%%"))
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(scratch)
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                " AND table_type = 'BASE TABLE'"
                " AND table_name NOT IN ('spatial_ref_sys', 'alembic_version')"
            )
        ).scalar()
    assert tables == 0
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
