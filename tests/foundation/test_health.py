"""`/health` reports the database, and says 503 — then recovers — when it is unreachable."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from service.app import create_app
from service.errors import PROBLEM_MEDIA_TYPE
from service.settings import Settings
from tests.foundation.tcp_proxy import TcpProxy
from tests.servers import free_port


def test_health_reports_postgis_and_revision(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["postgis"].startswith("3.")
    assert body["schema_revision"]


def test_health_is_503_problem_fast_when_the_database_is_unreachable(settings: Settings) -> None:
    url = make_url(settings.database_url).set(host="127.0.0.1", port=free_port())
    app = create_app(settings.model_copy(update={"database_url": url.render_as_string(False)}))
    with TestClient(app, raise_server_exceptions=False) as client:
        started = time.monotonic()
        response = client.get("/health")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"]
    assert elapsed < 2


def test_health_recovers_by_itself_when_the_database_comes_back(settings: Settings) -> None:
    real = make_url(settings.database_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    app = create_app(settings.model_copy(update={"database_url": url}))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/health").status_code == 200
        proxy.stop()
        started = time.monotonic()
        down = client.get("/health")
        assert down.status_code == 503
        assert down.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert time.monotonic() - started < 2
        proxy.start()  # same port: the database is back
        assert client.get("/health").status_code == 200
    proxy.stop()
