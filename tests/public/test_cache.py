"""The cache of rendered public responses: it serves only committed data, and every committed
change of a cabin or of its compliance empties it (NOTIFY public_data from migration 0007).
These tests commit for real (the cache never stores what a test's rolled-back transaction
shows), far from every other test's cabins, and delete what they wrote."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from service.app import create_app
from service.auth.models import Operator
from service.cabins.models import Cabin
from service.public.cache import Entry, ResponseCache
from service.rules.models import CabinCompliance
from service.settings import Settings
from tests.public.factories import make_cabin, make_operator, moved, published_compliance

# Near Ajaccio; no other public test puts cabins there.
HERE = (8.7386, 41.9192)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def cached_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"public_rate_limit_per_minute": 0}))
    yield app
    app.state.public_cache.stop()


@pytest.fixture
def committed(engine: Engine) -> Iterator[tuple[Session, uuid.UUID]]:
    """A session whose commits are real, and an operator of its own: the operator and its
    cabins are deleted after the test."""
    session = Session(bind=engine, expire_on_commit=False)
    operator_id = make_operator(session, name="Opérateur du test du cache")
    session.commit()
    try:
        yield session, operator_id
    finally:
        session.rollback()
        cabins = select(Cabin.id).where(Cabin.operator_id == operator_id)
        session.execute(delete(CabinCompliance).where(CabinCompliance.cabin_id.in_(cabins)))
        session.execute(delete(Cabin).where(Cabin.operator_id == operator_id))
        session.execute(delete(Operator).where(Operator.id == operator_id))
        session.commit()
        session.close()


def test_changes_are_served_as_soon_as_they_are_committed(
    cached_app: FastAPI, committed: tuple[Session, uuid.UUID]
) -> None:
    cache: ResponseCache = cached_app.state.public_cache
    session, op = committed
    cabin = make_cabin(session, op, moved(HERE, 120), venue_name="Pharmacie du Cours")
    session.commit()
    lon, lat = HERE
    nearest_url = f"/public/cabins/nearest?lat={lat}&lon={lon}&radius=2000"
    item_url = f"/ogc/collections/cabins/items/{cabin.reference}"

    with TestClient(cached_app) as client:

        def venue_names() -> list[str]:
            response = client.get(nearest_url)
            assert response.status_code == 200
            return [r["properties"]["venue_name"] for r in response.json()["results"]]

        # the listener starts with the app; the first read is built and stored, the next served
        wait_for(lambda: cache.ready)
        assert venue_names() == ["Pharmacie du Cours"]
        first = client.get(nearest_url)
        client.get(item_url)
        assert cache.stores == 2
        assert cache.hits == 1
        again = client.get(nearest_url)
        assert cache.hits == 2
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["cache-control"] == first.headers["cache-control"]
        assert again.headers["access-control-allow-origin"] == "*"
        assert again.headers["x-request-id"] != first.headers["x-request-id"]
        # conditional requests answered from the cache as the handler answers them
        revalidated = client.get(nearest_url, headers={"If-None-Match": first.headers["etag"]})
        assert revalidated.status_code == 304
        assert revalidated.content == b""
        assert revalidated.headers["etag"] == first.headers["etag"]
        assert "content-type" not in revalidated.headers
        assert cache.hits == 3
        item = client.get(item_url)
        assert cache.hits == 4
        assert item.headers["content-crs"].startswith("<http")

        # an edit of the cabin: the next read shows it, for the list and for the item
        before = cache.invalidations
        session.execute(
            update(Cabin).where(Cabin.id == cabin.id).values(venue_name="Pharmacie du Port")
        )
        session.commit()
        wait_for(lambda: cache.invalidations > before)
        assert venue_names() == ["Pharmacie du Port"]
        assert client.get(item_url).json()["properties"]["venue_name"] == "Pharmacie du Port"
        stale = client.get(nearest_url, headers={"If-None-Match": first.headers["etag"]})
        assert stale.status_code == 200

        # the rule engine's label lands in cabin_compliance: accessible=true sees it
        accessible_url = nearest_url + "&accessible=true"
        assert client.get(accessible_url).json()["results"] == []
        assert client.get(accessible_url).json()["results"] == []  # stored, then served
        before = cache.invalidations
        session.add(published_compliance(cabin.id, "accessible"))
        session.commit()
        wait_for(lambda: cache.invalidations > before)
        results = client.get(accessible_url).json()["results"]
        assert [r["reference"] for r in results] == [cabin.reference]

        # suspended: no longer public, at once
        before = cache.invalidations
        session.execute(update(Cabin).where(Cabin.id == cabin.id).values(status="suspended"))
        session.commit()
        wait_for(lambda: cache.invalidations > before)
        assert venue_names() == []
        assert client.get(item_url).status_code == 404


def test_a_response_built_before_a_change_is_not_stored_after_it(settings: Settings) -> None:
    cache = ResponseCache(settings.database_url, 1 << 20, 1 << 16, ttl_s=60)
    cache.ready = True
    entry = Entry([(b"etag", b'W/"x"')], [(b"etag", b'W/"x"')], b'W/"x"', b"{}", 1e18)
    started = cache.generation
    cache.invalidate()  # a notification arrives while the response is being built
    cache.put(("k",), started, entry)
    assert cache.entries == {}
    cache.put(("k",), cache.generation, entry)
    assert cache.get(("k",), now=0.0) is entry
    assert cache.get(("k",), now=2e18) is None  # expired after the Cache-Control max-age


def test_nothing_is_stored_while_the_listener_is_down(settings: Settings) -> None:
    cache = ResponseCache(settings.database_url, 1 << 20, 1 << 16, ttl_s=60)
    entry = Entry([], [], None, b"{}", 1e18)
    cache.put(("k",), cache.generation, entry)
    assert cache.entries == {}


def test_a_test_transaction_is_never_cached(client: TestClient, app: FastAPI, db: Session) -> None:
    op = make_operator(db)
    make_cabin(db, op, moved(HERE, 50), reference="CAB-" + uuid.uuid4().hex[:8].upper())
    lon, lat = HERE
    for _ in range(2):
        assert client.get(f"/public/cabins/nearest?lat={lat}&lon={lon}").status_code == 200
    cache: ResponseCache = app.state.public_cache
    assert cache.stores == 0


def test_concurrent_misses_of_one_key_run_the_app_once(settings: Settings) -> None:
    import asyncio

    from service.public.cache import MARK, PublicCacheMiddleware

    cache = ResponseCache(settings.database_url, 1 << 20, 1 << 16, ttl_s=60)
    cache.ready = True
    calls = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        calls.append(scope["query_string"])
        scope["state"][MARK] = True
        await asyncio.sleep(0.05)  # the query
        headers = [(b"content-type", b"application/json"), (b"etag", b'W/"1"')]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"n":1}'})

    middleware = PublicCacheMiddleware(app, cache)

    async def get(query: bytes, etag: bytes | None = None) -> list[dict]:
        headers = [(b"host", b"example")] + ([(b"if-none-match", etag)] if etag else [])
        scope = {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": "/public/cabins/nearest",
            "query_string": query,
            "headers": headers,
            "state": {},
        }
        sent: list[dict] = []

        async def send(message):  # type: ignore[no-untyped-def]
            sent.append(message)

        await middleware(scope, None, send)  # type: ignore[arg-type]
        return sent

    async def burst() -> list[list[dict]]:
        return await asyncio.gather(
            get(b"lat=1"), get(b"lat=1"), get(b"lat=1", b'W/"1"'), get(b"lat=2")
        )

    first, second, conditional, other = asyncio.run(burst())
    assert calls == [b"lat=1", b"lat=2"]
    assert first[1]["body"] == second[1]["body"] == b'{"n":1}'
    assert conditional[0]["status"] == 304
    assert other[0]["status"] == 200
    assert middleware.inflight == {}


def test_a_stored_answer_is_served_gzipped_to_the_clients_that_accept_it(
    cached_app: FastAPI, committed: tuple[Session, uuid.UUID]
) -> None:
    """A finder app on a phone: GeoJSON shrinks about fifteen times. The entry is compressed
    once, when stored, not on every hit; a client that does not accept gzip gets it plain."""
    cache: ResponseCache = cached_app.state.public_cache
    session, op = committed
    for i in range(12):
        make_cabin(session, op, moved(HERE, 50 + 40 * i), venue_name=f"Pharmacie {i}")
    session.commit()
    lon, lat = HERE
    url = f"/public/cabins/nearest?lat={lat}&lon={lon}&radius=2000&limit=12"
    plain_only = {"Accept-Encoding": "identity"}

    with TestClient(cached_app) as client:
        wait_for(lambda: cache.ready)
        miss = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert cache.stores == 1
        hit = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        plain = client.get(url, headers=plain_only)
        refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0, *"})
        assert cache.hits == 3

    entry = next(iter(cache.entries.values()))
    assert entry.gzipped is not None and len(entry.gzipped) * 4 < len(entry.body)
    for response in (miss, hit):
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
    assert hit.headers["content-length"] == str(len(entry.gzipped))
    for response in (plain, refused):
        assert "content-encoding" not in response.headers
        assert response.headers["content-length"] == str(len(entry.body))
        assert "Accept-Encoding" in response.headers["vary"]
    # the same document whichever the encoding (httpx decodes the gzipped ones)
    assert miss.json() == hit.json() == plain.json() == refused.json()
    assert len(plain.json()["results"]) == 12
    assert hit.headers["etag"] == plain.headers["etag"]


def test_a_stored_answer_is_not_served_to_an_accept_it_does_not_meet(
    cached_app: FastAPI, committed: tuple[Session, uuid.UUID]
) -> None:
    """The cache answers before routing: a stored JSON answer must not reach a client that
    takes XML only, which the route refuses with a 406; the clients it meets still hit."""
    cache: ResponseCache = cached_app.state.public_cache
    with TestClient(cached_app) as client:
        wait_for(lambda: cache.ready)
        stored = client.get("/ogc/collections/cabins")
        assert stored.status_code == 200 and cache.stores == 1
        refused = client.get("/ogc/collections/cabins", headers={"Accept": "application/xml"})
        served = client.get(
            "/ogc/collections/cabins", headers={"Accept": "application/geo+json, application/json"}
        )
        named = client.get("/ogc/collections/cabins?f=json", headers={"Accept": "application/xml"})
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["offered"] == ["application/json"]
    assert served.status_code == 200 and served.json() == stored.json()
    assert cache.hits == 1
    assert named.status_code == 200
