"""Content negotiation by `Accept` (RFC 9110 §12.5.1): a route answers the media types its
contract gives for its success (openapi.yaml); a request whose `Accept` names none of them is
a 406 problem+json listing them, before the handler runs (nothing read, nothing written).

RFC 9110 lets a server either honour `Accept` with a 406 or disregard it, and OGC API
Features lists 406 for a negotiation that failed. The registry honours it, read so that no
client that reads what the route sends is refused:

- no `Accept`, or one the service cannot parse (`Accept: *`), is as `*/*`;
- `*/*` and `type/*` match, a range with `q=0` refuses, the most specific range decides;
- `application/json` takes any `+json` type (RFC 6839: a GeoJSON or a JSON Schema document
  is JSON): the web app asks `/public/cabins` for `application/json`, GDAL's OGC API driver
  asks for `application/geo+json, application/json`.

A URL that names its format is not negotiated: the exports (`export.csv`, `.geojson`,
`.xlsx`: a regulator's script may send a blanket `Accept: application/json` with every
request, and has always had the CSV it asked for by name) and an OGC request with `f=`. An
error is problem+json whatever `Accept` says (RFC 9457 §3)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from service.errors import NotAcceptable

# The API's path roots: its answers are JSON (problem+json for every error) or a format the URL
# names; the web app's pages and assets and /health are elsewhere.
API_ROOTS = ("/v1", "/public", "/ogc")


def under(path: str, roots: Sequence[str] = API_ROOTS) -> bool:
    """Whether `path` is one of `roots` or below one of them (the API's, by default)."""
    return any(path == root or path.startswith(root + "/") for root in roots)


NAMED_FORMAT = re.compile(r"\.[a-z0-9]+$")  # a path ending in an extension: export.csv
FORMAT_PARAMETER = "f"  # OGC API's

Range = tuple[str, str, float]


def media_ranges(accept: str) -> list[Range] | None:
    """`Accept` as (type, subtype, weight); None when it is not one the service can read."""
    ranges: list[Range] = []
    for item in accept.split(","):
        media, *parameters = item.strip().split(";")
        if not media.strip():
            continue
        type_, slash, subtype = media.strip().lower().partition("/")
        if not slash or not type_ or not subtype:
            return None
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    return None
        ranges.append((type_, subtype, weight))
    return ranges or None


def is_json(media_type: str) -> bool:
    """`application/json` or any `+json` type (RFC 6839): problem+json, geo+json, schema+json."""
    essence = media_type.partition(";")[0].strip().lower()
    return essence == "application/json" or (
        essence.startswith("application/") and essence.endswith("+json")
    )


def weight_of(ranges: Iterable[Range], media_type: str) -> float:
    """The weight the client gives `media_type`: that of the most specific range matching it,
    0 when none does."""
    type_, _, subtype = media_type.split(";", 1)[0].strip().lower().partition("/")
    best, weight = -1, 0.0
    for range_type, range_subtype, q in ranges:
        if (range_type, range_subtype) == (type_, subtype):
            specificity = 3
        elif (range_type, range_subtype) == ("application", "json") and is_json(media_type):
            if q == 0:  # JSON's extension only grants: `application/json;q=0, */*` takes GeoJSON
                continue
            specificity = 2
        elif range_type == type_ and range_subtype == "*":
            specificity = 1
        elif (range_type, range_subtype) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best:
            best, weight = specificity, q
    return weight


def takes(accept: str | None, media_type: str) -> bool:
    """Whether a client with this `Accept` takes an answer of `media_type` (the public cache
    asks, before it serves a stored answer ahead of the route)."""
    ranges = media_ranges(accept) if accept else None
    return ranges is None or weight_of(ranges, media_type) > 0


def offered_types(route: Any) -> tuple[str, ...]:
    """The media types the route's success has in the contract: its response class's (a
    `response_model` route's JSON) and those its `responses=` declares for that status."""
    status = route.status_code or 200
    response_class = getattr(route.response_class, "value", route.response_class)
    types = [response_class.media_type] if response_class.media_type else []
    declared = route.responses.get(status) or route.responses.get(str(status)) or {}
    types += list(declared.get("content") or {})
    return tuple(dict.fromkeys(types))


def negotiates(route: Any) -> bool:
    """Whether the route's answer is chosen by `Accept` at all (see the module's docstring)."""
    return bool(offered_types(route)) and not NAMED_FORMAT.search(route.path)


def check(accept: str | None, offered: Sequence[str], query: Any = ()) -> None:
    """Raises the 406 when `Accept` names none of the `offered` types."""
    if not accept or FORMAT_PARAMETER in query:
        return
    ranges = media_ranges(accept)  # read once, weighed for each type offered
    if ranges is None or any(weight_of(ranges, media_type) > 0 for media_type in offered):
        return
    listed = ", ".join(offered)
    raise NotAcceptable(
        f"This resource is answered as {listed}; the Accept header ({accept}) takes none of them.",
        errors=[{"field": "Accept", "reason": f"must take one of: {listed}"}],
        offered=list(offered),
    )
