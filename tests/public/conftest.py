"""The public tests' app and client: the rate limit is off (the 429 test builds its own app),
so the order of tests never drains a bucket; and the open endpoints' read session is the
test's session too, so they see the cabins the test wrote inside its rolled-back
transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from service.app import create_app
from service.db import get_session
from service.public.reads import get_read_session
from service.settings import Settings


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"public_rate_limit_per_minute": 0}))


@pytest.fixture
def client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    def session_for_test() -> Iterator[Session]:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    async def read_session_for_test() -> AsyncIterator[Session]:
        yield db

    app.dependency_overrides[get_session] = session_for_test
    app.dependency_overrides[get_read_session] = read_session_for_test
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.dependency_overrides.clear()
