"""Keyset paging of the registry's lists (the cabins, a cabin's history, the compliance list,
the API clients): the page size, the opaque `after` cursor and the `next` link.

A page holds `limit` items, the server's default when none is asked and never more than its
maximum. A list asks its query for one row more than the page: when it comes back, the page
has a `next` link, the same request with `after` = the page's last key and the page's size.
The cursor is that key's bytes in URL-safe base64 without padding; what the bytes mean (a
UUID, an event id, a creation time and an id) is the list's business. Cursors already handed
out stay good as long as this encoding does not change."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query
from starlette.requests import Request

from service import patterns
from service.errors import InvalidParameter, invalid_parameter

T = TypeVar("T")

Limit = Annotated[int | None, Query(ge=1, description="Page size (capped by the server).")]
# A cursor of 16 bytes (a UUID or an event id): 22 characters.
After = Annotated[str | None, Query(pattern=patterns.CURSOR, description="Cursor from `next`.")]

# `urlsafe_b64decode` drops characters outside its alphabet instead of refusing them: a cursor
# with a stray `!` in it would read as another one.
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_BIGINT_END = 2**63


def page_size(request: Request, limit: int | None) -> int:
    """The size of the page: `limit`, else the server's default, never over its maximum."""
    settings = request.app.state.settings
    return int(min(limit or settings.page_size_default, settings.page_size_max))


def not_a_cursor(cursor: str) -> InvalidParameter:
    """The 400 for an `after` that is not a cursor this service gave: the one FastAPI answers
    when the cursor's form gives it away (`After`'s pattern)."""
    return invalid_parameter("after", patterns.not_a_cursor(cursor))


def encode_cursor(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> bytes:
    """The key of `length` bytes that `cursor` carries; a 400 naming `after` when it is not
    one."""
    if not _ALPHABET.fullmatch(cursor):
        raise not_a_cursor(cursor)
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise not_a_cursor(cursor) from None
    if len(key) != length:
        raise not_a_cursor(cursor)
    return key


def uuid_cursor(cursor: str) -> uuid.UUID:
    """The id of the last item of the previous page, from a cursor of `encode_cursor(id.bytes)`."""
    return uuid.UUID(bytes=decode_cursor(cursor, 16))


def bigint_key(value: int) -> bytes:
    """The key of a PostgreSQL bigint id (not negative): 16 bytes, as a UUID's, so that its
    cursor has the same shape."""
    return value.to_bytes(16)


def bigint_cursor(cursor: str) -> int:
    """The bigint id of the last item of the previous page, from a cursor of `bigint_key`."""
    value = int.from_bytes(decode_cursor(cursor, 16))
    if value >= _BIGINT_END:
        raise not_a_cursor(cursor)
    return value


def next_link(
    request: Request, size: int, found: Sequence[T], key: Callable[[T], bytes]
) -> str | None:
    """The link to the page after `found[:size]`, when the query (asked for `size + 1` rows)
    found more than a page, else None. `key` gives an item's key, which the cursor carries."""
    if len(found) <= size:
        return None
    after = encode_cursor(key(found[size - 1]))
    return str(request.url.include_query_params(after=after, limit=size))
