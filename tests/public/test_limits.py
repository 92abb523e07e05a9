"""The per-client-IP rate limit of the open endpoints: 429 problem+json with Retry-After once
the bucket is empty, per address, and never on the keyed API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.public.ratelimit import TokenBuckets
from service.settings import Settings


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        settings.model_copy(
            update={"public_rate_limit_per_minute": 60, "public_rate_limit_burst": 3}
        )
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_429_with_retry_after_when_the_bucket_is_empty(limited: TestClient) -> None:
    for _ in range(3):
        assert limited.get("/ogc/conformance").status_code == 200
    refused = limited.get("/ogc/conformance")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429
    # a browser app may read Retry-After: the CORS headers, once each
    cors = [k for k, _ in refused.headers.multi_items() if k.startswith("access-control-")]
    assert sorted(cors) == ["access-control-allow-origin", "access-control-expose-headers"]
    assert "Retry-After" in refused.headers["access-control-expose-headers"]
    # another route family is not limited by the public buckets
    assert limited.get("/ogc/conformance").status_code == 429
    assert limited.get("/health").status_code != 429


def test_buckets_are_per_address_and_refill() -> None:
    buckets = TokenBuckets(per_minute=60, burst=2)
    assert buckets.take("10.0.0.1", now=0.0) == 0
    assert buckets.take("10.0.0.1", now=0.0) == 0
    wait = buckets.take("10.0.0.1", now=0.0)
    assert 0.9 < wait <= 1.0
    assert buckets.take("10.0.0.2", now=0.0) == 0  # another client has its own bucket
    assert buckets.take("10.0.0.1", now=1.0) == 0  # one token back after a second
