"""`GET /health`: the database, its PostGIS version and the schema revision; 503 when down."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.errors import ServiceUnavailable, problem_responses
from service.routing import ApiRoute

router = APIRouter(route_class=ApiRoute, tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(description="PostgreSQL server version.")
    postgis: str | None = Field(description="PostGIS version, null when not installed.")
    schema_revision: str | None = Field(description="Alembic revision the database is at.")


@router.get("/health", response_model=Health, responses=problem_responses(503))
def health(request: Request) -> Health:
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET LOCAL statement_timeout = 1500")
            server = conn.execute(text("SHOW server_version")).scalar_one()
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            has_alembic = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            revision = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if has_alembic
                else None
            )
    except SQLAlchemyError as exc:
        raise ServiceUnavailable(
            "The database is unavailable.", headers={"Retry-After": "5"}
        ) from exc
    return Health(status="ok", database=str(server), postgis=postgis, schema_revision=revision)
