"""Cabin writes behind a long write: a publication holds the audit chain and the rule set in
force until it ends, a full pass (`registry rules reevaluate`) the rule set in force; a write
that waits for them as long as a request may is answered a 503 saying so, nothing written.
These tests commit (their operator, key and cabin are deleted afterwards)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from service.app import create_app
from service.audit.trail import CHAIN_LOCK_KEY
from service.errors import BUSY
from service.rules.plan import IN_FORCE_LOCK_KEY
from tests.cabins.factories import cabin_body
from tests.cabins.test_import_jobs import Committed, committed  # noqa: F401


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
    committed: Committed,  # noqa: F811
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
    committed: Committed,  # noqa: F811
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
