"""HTTP caching of public reads: a weak ETag from the body (or from a fingerprint of the data
when the body is streamed), `Cache-Control`, and 304 Not Modified on a matching
`If-None-Match`."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response

MAX_AGE_S = 60
CACHE_CONTROL = f"public, max-age={MAX_AGE_S}"


def etag_of(*parts: bytes | str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return f'W/"{digest.hexdigest()}"'


def not_modified(request: Request, etag: str) -> bool:
    """True when the client's `If-None-Match` names this ETag (weak comparison, RFC 9110)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag.removeprefix("W/") in wanted


def cached(
    request: Request,
    body: bytes,
    media_type: str,
    headers: dict[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """The response for a public read: 304 when the client already holds this version."""
    tag = etag or etag_of(body)
    all_headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    if not_modified(request, tag):
        return Response(status_code=304, headers=all_headers)
    return Response(content=body, media_type=media_type, headers=all_headers)
