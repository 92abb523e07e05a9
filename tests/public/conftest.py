"""The public tests' app: the rate limit is off (the 429 test builds its own app), so the order
of tests never drains a bucket. (The root `client` fixture binds the read session too.)"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"public_rate_limit_per_minute": 0}))
