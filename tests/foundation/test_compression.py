"""gzip: every JSON answer over 1 KiB and the CSV are compressed for a client that accepts it,
whatever the path (the regulators' summaries were sent plain); the XLSX and the web app's
pages are not; a large complete answer is compressed at the fast level. Each body is read as
sent (`iter_raw`) and decoded with `gzip`, not trusted to httpx's own decoding."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import orjson
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from service.compression import (
    FAST_FROM_BYTES,
    MINIMUM_BYTES,
    GzipMiddleware,
    is_compressible,
    vary_on_encoding,
)

GZIP = {"Accept-Encoding": "gzip"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def raw(client: TestClient, url: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        return dict(response.headers), b"".join(response.iter_raw())


def document(size: int) -> bytes:
    rows = [{"key": f"{i:05d}", "name": f"Commune {i}", "cabins": i % 7} for i in range(size)]
    return orjson.dumps({"groups": rows})


@pytest.fixture(scope="module")
def toy() -> TestClient:
    app = FastAPI()
    app.add_middleware(GzipMiddleware)
    small, medium, large = document(20), document(2_000), document(40_000)
    assert len(small) < MINIMUM_BYTES < len(medium) < FAST_FROM_BYTES < len(large)
    answers = {
        "small": (small, "application/json"),
        "medium": (medium, "application/json"),
        "large": (large, "application/json"),
        "problem": (medium, "application/problem+json"),
        "csv": (medium, "text/csv; charset=utf-8"),
        "xlsx": (medium, XLSX),
        "html": (medium, "text/html; charset=utf-8"),
    }

    @app.get("/{name}")
    def answer(name: str) -> Response:
        body, media_type = answers[name]
        return Response(body, media_type=media_type)

    @app.get("/streamed/geojson")
    def streamed() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield large

        return StreamingResponse(chunks(), media_type="application/geo+json")

    app.state.answers = answers
    app.state.large = large
    return TestClient(app)


@pytest.mark.parametrize("name", ["medium", "large", "problem", "csv"])
def test_json_and_csv_over_the_minimum_are_gzipped(toy: TestClient, name: str) -> None:
    headers, body = raw(toy, f"/{name}", GZIP)
    assert headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in headers["vary"]
    assert headers["content-length"] == str(len(body))
    assert gzip.decompress(body) == toy.app.state.answers[name][0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["small", "xlsx", "html"])
def test_small_answers_zips_and_pages_are_sent_as_they_are(toy: TestClient, name: str) -> None:
    headers, body = raw(toy, f"/{name}", GZIP)
    assert "content-encoding" not in headers
    assert body == toy.app.state.answers[name][0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip;q=0", "br", ""])
def test_a_client_that_does_not_take_gzip_gets_the_plain_body(
    toy: TestClient, accept_encoding: str
) -> None:
    headers, body = raw(toy, "/medium", {"Accept-Encoding": accept_encoding})
    assert "content-encoding" not in headers
    assert body == toy.app.state.answers["medium"][0]  # type: ignore[attr-defined]


def test_a_large_answer_is_compressed_at_the_fast_level(toy: TestClient) -> None:
    """The gzip header's XFL byte says the level zlib used: 4 for the fastest, 0 for the
    default. The 7 MB summary by commune pays a third of level 6's time."""
    _, large = raw(toy, "/large", GZIP)
    _, medium = raw(toy, "/medium", GZIP)
    assert large[8] == 4
    assert medium[8] == 0


def test_a_streamed_answer_is_gzipped_as_it_goes(toy: TestClient) -> None:
    headers, body = raw(toy, "/streamed/geojson", GZIP)
    assert headers["content-encoding"] == "gzip"
    assert "content-length" not in headers
    assert body[8] == 0  # its chunks come one by one: the default level
    assert gzip.decompress(body) == toy.app.state.large * 3  # type: ignore[attr-defined]


def test_compressible_types() -> None:
    for content_type in (
        "application/json",
        "application/problem+json",
        "application/geo+json",
        "application/schema+json",
        "application/vnd.oai.openapi+json;version=3.1",
        "text/csv; charset=utf-8",
    ):
        assert is_compressible(content_type), content_type
    for content_type in (XLSX, "text/html; charset=utf-8", "image/png", "", "text/javascript"):
        assert not is_compressible(content_type), content_type


def test_the_registry_compresses_its_regulators_answers(client: TestClient) -> None:
    """The service as built: a `/v1` JSON answer is compressed as `/public`'s are (the API
    definition, over 1 KiB, stands for any), and a HEAD gives GET's headers."""
    headers, body = raw(client, "/openapi.json", GZIP)
    assert headers["content-encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(body))["openapi"].startswith("3.")
    head = client.head("/openapi.json", headers=GZIP)
    assert head.headers["content-encoding"] == "gzip"
    assert head.headers["content-length"] == headers["content-length"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], [(b"vary", b"Accept-Encoding")]),
        ([(b"vary", b"Accept")], [(b"vary", b"Accept, Accept-Encoding")]),
        ([(b"Vary", b"Origin")], [(b"Vary", b"Origin, Accept-Encoding")]),
        ([(b"vary", b"Accept, accept-encoding")], [(b"vary", b"Accept, accept-encoding")]),
        ([(b"VARY", b"ACCEPT-ENCODING")], [(b"VARY", b"ACCEPT-ENCODING")]),
        ([(b"vary", b"*")], [(b"vary", b"*")]),
    ],
)
def test_vary_names_accept_encoding_once_whatever_its_case(
    headers: list[tuple[bytes, bytes]], expected: list[tuple[bytes, bytes]]
) -> None:
    """The public cache's stored answers and the middleware's add `Accept-Encoding` to the
    `Vary` an answer has, and never a second time (header names and tokens are
    case-insensitive, RFC 9110 §5.1, §12.5.5)."""
    assert vary_on_encoding([(b"content-type", b"application/json"), *headers]) == [
        (b"content-type", b"application/json"),
        *expected,
    ]
