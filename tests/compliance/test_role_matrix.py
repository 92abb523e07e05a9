"""Role × route matrix over every `/v1` route the app has (listed from the app itself, so a new
route is covered without editing this file): operator A, operator B, the ARS of région 84, the
ARS of région 11, a national regulator and the public (no key). No answer may carry a cabin
beyond the caller's scope, and a route aimed at a cabin beyond it never succeeds."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

from tests.compliance.conftest import World

ROLES = ("operator_a", "operator_b", "ars_84", "ars_11", "national", "public")
CABIN_PARAMS = {"cabin_id", "id"}
OTHER_PARAMS = {
    "insee": "69123",
    "code": "84",
    "version": "2026.1",
    "collection_id": "cabins",
    "collectionId": "cabins",
}


def v1_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """Every (method, path) under /v1, walking included routers."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            router = getattr(route, "original_router", None)
            if router is not None:
                yield from walk(router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None) and getattr(route, "path", None):
                path = prefix + route.path
                if path.startswith("/v1"):
                    for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                        yield method, path

    seen: set[tuple[str, str]] = set()
    for item in walk(list(app.routes), ""):
        if item not in seen:
            seen.add(item)
            yield item


def fill(path: str, cabin_id: uuid.UUID | None, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name in CABIN_PARAMS or name.endswith("cabin_id"):
            return str(cabin_id or uuid.uuid4())
        if name == "version":
            return world.rule_set
        if name == "operator_id":
            return str(world.operator_b)
        return OTHER_PARAMS.get(name, str(uuid.uuid4()))

    return re.sub(r"\{([^}]+)\}", value, path)


def targets_cabin(path: str) -> bool:
    names = re.findall(r"\{([^}:]+)", path)
    return any(n in CABIN_PARAMS or n.endswith("cabin_id") for n in names)


def readable(response: Any) -> str:
    """The body as text; a workbook (a zip) is read member by member."""
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return response.text


def forbidden_tokens(world: World, role: str) -> dict[str, set[str]]:
    """Identifiers of the world's cabins the role may not see: id and public reference."""
    hidden = set(world.cabins) - world.visible(role)
    return {name: {str(world.cabins[name].id), world.cabins[name].reference} for name in hidden}


def test_no_v1_route_leaks_beyond_the_callers_scope(app: FastAPI, client, world: World) -> None:
    routes = list(v1_routes(app))
    assert ("GET", "/v1/compliance/cabins") in routes  # the walk found the routes
    assert len(routes) >= 10
    leaks: list[str] = []
    checked = 0
    # reads first, then writes (which may change the world), each aimed at hidden cabins only
    ordered = sorted(routes, key=lambda r: (r[0] != "GET", r[1]))
    for method, path in ordered:
        for role in ROLES:
            hidden = forbidden_tokens(world, role)
            if targets_cabin(path):
                aims = [(n, world.cabins[n].id) for n in sorted(world.cabins)]
                if method != "GET":
                    aims = [(n, i) for n, i in aims if n in hidden]
            else:
                aims = [(None, None)]
            for name, cabin_id in aims:
                url = fill(path, cabin_id, world)
                body = {} if method in {"POST", "PUT", "PATCH"} else None
                r = client.request(method, url, headers=world.keys[role], json=body)
                checked += 1
                where = f"{role} {method} {url} -> {r.status_code}"
                if r.status_code >= 500:
                    leaks.append(f"{where}: server error {r.text[:200]}")
                if name in hidden and r.status_code < 400:
                    leaks.append(f"{where}: a hidden cabin's route succeeded")
                text = readable(r).replace(url, "")
                if cabin_id is not None:
                    text = text.replace(str(cabin_id), "")
                for other, tokens in hidden.items():
                    if other != name and any(t in text for t in tokens):
                        leaks.append(f"{where}: carries cabin {other}")
                protected = path.startswith(("/v1/cabins", "/v1/compliance"))
                if role == "public" and protected and r.status_code not in (401, 405):
                    leaks.append(f"{where}: answered without a key")
    assert checked > 100
    assert leaks == []
