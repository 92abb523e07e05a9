"""Cabin writes behind a long write: a publication holds the audit chain and the rule set in
force until it ends, a full pass (`registry rules reevaluate`) the rule set in force; a write
that waits for them as long as a request may is answered a 503 saying so, nothing written.
These tests commit (their operator, key and cabin are deleted afterwards)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.app import create_app
from service.audit.trail import CHAIN_LOCK_KEY
from service.auth.deps import Principal
from service.cabins.queries import get_visible
from service.errors import BUSY
from service.rules.plan import IN_FORCE_LOCK_KEY
from tests.cabins.conftest import Committed
from tests.cabins.factories import cabin_body


@pytest.mark.parametrize(
    "held",
    [CHAIN_LOCK_KEY, IN_FORCE_LOCK_KEY, None],
    ids=[
        "a-publication-holds-the-audit-chain",
        "a-full-pass-holds-the-rule-set-in-force",
        "another-write-of-the-cabin-waits-behind-one",
    ],
)
def test_a_write_that_waited_as_long_as_a_request_may_behind_a_long_write_is_a_503(
    settings: Any,
    engine: Engine,
    committed: Committed,
    held: int | None,
) -> None:
    # The request's limit shortened, so that the wait reaches it in a test's time.
    app = create_app(settings.model_copy(update={"db_statement_timeout_ms": 500}))
    with TestClient(app) as client:
        created = client.post("/v1/cabins", json=cabin_body("LONG-1"), headers=committed.headers)
        assert created.status_code == 201, created.text
        cabin_id, etag = created.json()["id"], created.headers["ETag"]
        with engine.connect() as long_write:
            if held is None:  # the cabin's row, held by a write that waits itself
                long_write.execute(
                    text("SELECT 1 FROM cabin WHERE id = :id FOR UPDATE"), {"id": cabin_id}
                )
            else:
                long_write.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": held})
            try:
                response = client.patch(
                    f"/v1/cabins/{cabin_id}",
                    json={"opening_hours": "Mo-Fr 08:00-18:00"},
                    headers={
                        **committed.headers,
                        "If-Match": etag,
                        "Content-Type": "application/merge-patch+json",
                    },
                )
            finally:
                long_write.rollback()
        after = client.get(f"/v1/cabins/{cabin_id}", headers=committed.headers)

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "60"
    assert response.json()["detail"] == BUSY
    assert (after.headers["ETag"], after.json()["opening_hours"]) == (
        etag,
        cabin_body("LONG-1")["opening_hours"],
    )


def test_an_import_that_waited_as_long_as_a_request_may_for_a_cabin_is_a_503(
    settings: Any,
    engine: Engine,
    committed: Committed,
) -> None:
    """The import locks the cabins it updates with its own statements: its wait for a cabin a
    long write holds is answered as a PATCH's is."""
    app = create_app(settings.model_copy(update={"db_statement_timeout_ms": 500}))
    with TestClient(app) as client:
        created = client.post("/v1/cabins", json=cabin_body("LONG-2"), headers=committed.headers)
        assert created.status_code == 201, created.text
        changed = cabin_body("LONG-2", opening_hours="Mo-Fr 08:00-18:00")
        with engine.connect() as long_write:
            long_write.execute(
                text("SELECT 1 FROM cabin WHERE id = :id FOR UPDATE"), {"id": created.json()["id"]}
            )
            try:
                response = client.post(
                    "/v1/cabins/import",
                    content=orjson.dumps(changed) + b"\n",
                    headers={**committed.headers, "Content-Type": "application/x-ndjson"},
                )
            finally:
                long_write.rollback()
        after = client.get(f"/v1/cabins/{created.json()['id']}", headers=committed.headers)

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "60"
    assert response.json()["detail"] == BUSY
    assert after.headers["ETag"] == created.headers["ETag"]


def test_a_cabin_held_for_a_write_does_not_stop_its_verdicts_being_written(
    settings: Any,
    engine: Engine,
    committed: Committed,
) -> None:
    """A write holds its cabin's row; a publication or a full pass writing that cabin's verdicts
    meanwhile checks their foreign key (FOR KEY SHARE on the row). A FOR UPDATE made it wait
    for the write, which itself would wait for the publication's locks: a deadlock."""
    with TestClient(create_app(settings)) as client:
        created = client.post("/v1/cabins", json=cabin_body("LONG-3"), headers=committed.headers)
        assert created.status_code == 201, created.text
    cabin_id = uuid.UUID(created.json()["id"])
    writer = Principal(uuid.uuid4(), "writer", "operator", committed.operator_id)
    with Session(engine) as write, engine.connect() as publication:
        assert get_visible(write, writer, cabin_id, for_update=True) is not None
        publication.execute(text("SET LOCAL lock_timeout = '2s'"))
        held = publication.scalar(
            text("SELECT 1 FROM cabin WHERE id = :id FOR KEY SHARE"), {"id": cabin_id}
        )
        publication.rollback()
        write.rollback()
    assert held == 1
