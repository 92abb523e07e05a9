"""Validation of the cabin record beyond its types, reusable by the bulk importer:

- `read_record(data)`: the record's type-level checks (`CabinCreate`), and when some field
  fails them, the record still readable from the others, so that the record-level checks
  run too and one answer lists every error (`Reading.without_consequences` keeps out what
  only follows from a field that failed its type);
- `check_record(cabin, today)`: pure checks over a `CabinCreate` (identifier checksums and
  formats, OSM opening hours, dates not in the future, measurements that must agree);
- `LOCATION_CHECK_SQL` / `check_locations(session, rows)`: one set-based statement over any
  set of `(key, lon, lat, declared_insee)` rows — one row on a write, a staging table on an
  import — that finds whether the declared commune exists, whether the point is in France and
  in the declared commune (else which commune it falls in), and whether latitude and longitude
  look swapped; it also gives the derived commune codes.

Each failure is a `{field, reason}` pair naming the field as the API spells it."""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Union, get_args, get_origin

import opening_hours
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.cabins.schemas import CabinCreate, CabinRead, CareLink
from service.errors import field_errors
from service.identifiers import siret_problem
from service.territories.queries import CURRENT_COMMUNE_LAYER_IDS

# A point this close to a commune polygon counts as in it: the commune layer is a simplified
# ADMIN EXPRESS, so a cabin on a quay or on a commune border may fall just outside its polygon.
BORDER_TOLERANCE_M = 150
# Points farther than this from every commune are at sea or abroad.
COAST_TOLERANCE_M = 500

# FINESS numbers start with the département: 01-95 (2A/2B for Corsica), 971-976 overseas.
# The same pattern in Python and in PostgreSQL (the set-based import's check).
FINESS_PATTERN = r"^(?:0[1-9]|[1-8][0-9]|9[0-5]|2[AB])[0-9]{7}$|^97[1-6][0-9]{6}$"
_FINESS = re.compile(FINESS_PATTERN)
_RPPS = re.compile(r"^[0-9]{11}$")

FieldErrors = list[dict[str, Any]]


@dataclass(frozen=True)
class Reading:
    """A record as read. `cabin`: the record, when every field passed its type-level checks.
    Otherwise `errors` lists those failures (fields as the API spells them) and `readable` is
    the record with the failed fields left empty (None, an empty list or an empty block), on
    which the record-level checks can still run; None when the input is not even an object."""

    cabin: CabinCreate | None
    readable: CabinCreate | None
    errors: FieldErrors
    failed: frozenset[str]

    def without_consequences(self, problems: FieldErrors) -> FieldErrors:
        """The record-level `problems` that do not follow from a field that failed its type:
        none on that field (`required`, when it was only unreadable), on a block holding it (a
        partner's identifier) or inside it."""
        return [p for p in problems if not _touches(str(p["field"]), self.failed)]

    def location(self, key: str = "0") -> LocationInput | None:
        """The point to check against the commune layer, when its three fields are readable."""
        where = self.readable.location if self.readable is not None else None
        if where is None or None in (where.lon, where.lat, where.declared_insee):
            return None
        return LocationInput(key, where.lon, where.lat, where.declared_insee)


def _touches(field: str, failed: frozenset[str]) -> bool:
    return any(field == f or f.startswith(field + ".") or field.startswith(f + ".") for f in failed)


def read_record(
    data: Mapping[str, Any] | CabinCreate,
    *,
    whole: str = "body",
    explain: Callable[[ErrorDetails], str | None] | None = None,
) -> Reading:
    """The type-level checks of a record (a JSON object, or a `CabinCreate` already read);
    `whole` names an error about the record as a whole; `explain` words an error the record
    came in otherwise than JSON says it (a CSV cell), before the registry's own words."""
    if isinstance(data, CabinCreate):
        return Reading(data, data, [], frozenset())
    try:
        cabin = CabinCreate.model_validate(data)
    except ValidationError as error:
        errors = field_errors(
            error, whole=whole, explain=lambda e: (explain and explain(e)) or _explained(e)
        )
        failed = frozenset(
            ".".join(str(part) for part in e["loc"])
            for e in error.errors(include_url=False)
            if e["type"] != "extra_forbidden"  # an unknown key leaves every field readable
        )
        readable = None
        if isinstance(data, Mapping) and "" not in failed:
            readable = _readable(CabinCreate, data, failed, "")
        return Reading(None, readable, errors, failed)
    return Reading(cabin, cabin, [], frozenset())


def _explained(error: ErrorDetails) -> str | None:
    """A field the record does not take, said for what it is: one the registry sets, or none
    of the record's. Every other reason is `service.errors.pydantic_reason`'s, as anywhere."""
    if error["type"] == "extra_forbidden":
        return _extra_reason(tuple(str(part) for part in error["loc"]))
    return None


def _extra_reason(path: tuple[str, ...]) -> str:
    if path[-1:] == ("status",) or path[:1] == ("lifecycle",):
        return (
            "is not written with the record: the status moves with POST /v1/cabins/{id}/transitions"
        )
    if _has_field(CabinRead, path):
        return "is set by the registry (read-only): leave it out of what you send"
    return "is not a field of the cabin record; see schemas/cabin.schema.json"


def _has_field(model: type[BaseModel] | None, path: tuple[str, ...]) -> bool:
    for part in path:
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        model = model_of(annotation) or _list_item_model(annotation)
    return True


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The Pydantic model an annotation holds (itself, or the model of an optional one)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            model = model_of(arg)
            if model is not None:
                return model
    return None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is list:
        return model_of(get_args(annotation)[0])
    return None


@lru_cache(maxsize=256)
def field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    """Validates one field of `model` on its own, with its constraints."""
    info = model.model_fields[name]
    annotated: Any = Annotated[info.annotation, info]
    return TypeAdapter(annotated)


def _readable(model: type[BaseModel], data: Any, failed: frozenset[str], path: str) -> Any:
    """`model` built from the fields of `data` that passed their checks (each validated again
    on its own); a failed field is left empty. Only for a record that failed validation."""
    given = data if isinstance(data, Mapping) else {}
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        here = f"{path}.{name}" if path else name
        raw = given.get(name)
        sub, item = model_of(info.annotation), _list_item_model(info.annotation)
        broken = here in failed or any(f.startswith(here + ".") for f in failed)
        if here in failed or raw is None:
            if raw is None and not info.is_required() and here not in failed:
                values[name] = info.get_default(call_default_factory=True)
            elif item is not None or get_origin(info.annotation) is list:
                values[name] = []
            elif sub is not None and not _optional(info.annotation):
                values[name] = _readable(sub, {}, failed, here)
            else:
                values[name] = None
        elif item is not None:
            items = raw if isinstance(raw, list) else []
            values[name] = [_readable(item, v, failed, f"{here}.{i}") for i, v in enumerate(items)]
        elif sub is not None:
            values[name] = _readable(sub, raw, failed, here)
        elif broken:  # an item of a list of values failed
            values[name] = [] if get_origin(info.annotation) is list else None
        else:
            try:
                values[name] = field_adapter(model, name).validate_python(raw)
            except ValidationError:  # cannot happen: it passed in the whole record
                values[name] = None
    return model.model_construct(**values)


def _optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def finess_problem(value: str) -> str | None:
    if _FINESS.match(value):
        return None
    return (
        "not a FINESS number: 9 characters starting with a département code"
        " (01-95, 2A, 2B, 971-976)"
    )


def rpps_problem(value: str) -> str | None:
    return None if _RPPS.match(value) else "not an RPPS number: 11 digits"


_PARSER_AT = re.compile(r"-->\s*(\d+):(\d+)")
_PARSER_SAYS = re.compile(r"^\s*=\s*(.+)$", re.MULTILINE)
# The parser's grammar names, in the words of the OSM opening_hours specification.
_GRAMMAR_WORDS = {"EOI": "the end of the value", "wday": "a weekday (Mo-Su)"}


def _grammar(hint: str) -> str:
    def word(match: re.Match[str]) -> str:
        name = match.group(0)
        return _GRAMMAR_WORDS.get(name, name.replace("_", " "))

    return re.sub(r"[A-Za-z_]+", word, hint)


def opening_hours_problem(value: str) -> str | None:
    """Where the OSM syntax breaks and what the parser expected there; when the parser names
    no position (a time or range it read but refuses), its own words."""
    try:
        opening_hours.OpeningHours(value)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # a ParserError, or a panic of the Rust parser
        message = str(error)
        at = _PARSER_AT.search(message)
        says = _PARSER_SAYS.search(message)
        if at is None:
            plain = message.removeprefix("Failed to parse expression:").strip()
            if not plain or "\n" in plain or type(error).__name__ != "ParserError":
                return "not in OSM opening_hours syntax"
            return f"not in OSM opening_hours syntax: {plain}"
        line, column = int(at.group(1)), int(at.group(2))
        lines = value.splitlines() or [""]
        rest = lines[line - 1][column - 1 :] if line <= len(lines) else ""
        where = f"character {column}" if len(lines) == 1 else f"line {line}, character {column}"
        near = f" (near {rest[:20]!r})" if rest.strip() else " (at the end)"
        reason = f"not in OSM opening_hours syntax at {where}{near}"
        return f"{reason}: {_grammar(says.group(1).strip())}" if says else reason
    return None


def care_link_problems(links: Sequence[CareLink]) -> FieldErrors:
    """The checks of the coordinated-care partners (identifier keys and formats)."""
    errors: FieldErrors = []

    def fail(field: str, reason: str | None) -> None:
        if reason:
            errors.append({"field": field, "reason": reason})

    for i, link in enumerate(links):
        base = f"care_links.{i}"
        if link.siret:
            fail(f"{base}.siret", siret_problem(link.siret))
        if link.finess:
            fail(f"{base}.finess", finess_problem(link.finess))
        if link.rpps:
            fail(f"{base}.rpps", rpps_problem(link.rpps))
        if link.kind == "professionnel_rpps" and not link.rpps:
            fail(f"{base}.rpps", "required for an assisting professional")
        if not (link.siret or link.finess or link.rpps):
            fail(base, "a partner needs a FINESS, SIRET or RPPS identifier")
    return errors


def check_record(cabin: CabinCreate, today: date) -> FieldErrors:
    """Every pure check of one record; an empty list when it passes."""
    errors: FieldErrors = []

    def fail(field: str, reason: str | None) -> None:
        if reason:
            errors.append({"field": field, "reason": reason})

    venue = cabin.venue
    if venue.siret:
        fail("venue.siret", siret_problem(venue.siret))
    if venue.finess:
        fail("venue.finess", finess_problem(venue.finess))
    if venue.kind == "autre" and not venue.description:
        fail("venue.description", "required when venue.kind is 'autre'")

    errors += care_link_problems(cabin.care_links)

    if cabin.provider:
        provider = cabin.provider
        if provider.siret:
            fail("provider.siret", siret_problem(provider.siret))
        start, end = provider.agrement_start_date, provider.agrement_end_date
        if start and end and end < start:
            fail("provider.agrement_end_date", "before agrement_start_date")
        if start and start > today:
            fail("provider.agrement_start_date", "in the future")

    if cabin.opening_hours:
        fail("opening_hours", opening_hours_problem(cabin.opening_hours))
    if cabin.siting.staff_hours:
        fail("siting.staff_hours", opening_hours_problem(cabin.siting.staff_hours))

    person = cabin.siting.responsible_person
    past_dates = {
        "siting.responsible_person.trained_on_date": person.trained_on_date,
        "declarations.ars_declaration_date": cabin.declarations.ars_declaration_date,
        "declarations.cpam_informed_date": cabin.declarations.cpam_informed_date,
        "declarations.cpts_informed_date": cabin.declarations.cpts_informed_date,
        "declarations.concertation.date": (
            cabin.declarations.concertation.date if cabin.declarations.concertation else None
        ),
    }
    for field, value in past_dates.items():
        if value and value > today:
            fail(field, f"{value.isoformat()} is in the future")

    a = cabin.accessibility
    if (
        a.controls_height_min_cm is not None
        and a.controls_height_max_cm is not None
        and a.controls_height_min_cm > a.controls_height_max_cm
    ):
        fail("accessibility.controls_height_min_cm", "higher than controls_height_max_cm")
    if a.entree_plain_pied is True and a.threshold_height_cm and a.threshold_height_cm > 4:
        fail(
            "accessibility.threshold_height_cm",
            "a threshold above 4 cm contradicts entree_plain_pied = true",
        )
    if a.ramp_length_cm is not None and a.ramp_slope_pct is None:
        fail("accessibility.ramp_slope_pct", "required when ramp_length_cm is given")
    return errors


@dataclass(frozen=True)
class LocationInput:
    key: str
    lon: float
    lat: float
    declared_insee: str


@dataclass(frozen=True)
class LocationResult:
    key: str
    commune_insee: str | None
    departement: str | None
    region: str | None
    epci: str | None
    vintage: str | None
    errors: FieldErrors


# One statement over a relation aliased `s` with columns (key, lon, lat, declared_insee):
# `{src}` is replaced by e.g. `staging AS s` or `(VALUES …) AS s(key, lon, lat, declared_insee)`.
# Uses the GiST index on commune.geom (ST_DWithin on geometry, in degrees, as a prefilter
# before the exact distance in metres on geography).
LOCATION_CHECK_SQL = f"""
WITH cur AS {CURRENT_COMMUNE_LAYER_IDS},
pt AS (
  SELECT s.key, s.lon, s.lat, s.declared_insee,
         ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS g,
         ST_SetSRID(ST_MakePoint(s.lat, s.lon), 4326) AS gs
  FROM {{src}}
)
SELECT pt.key, pt.lon, pt.lat, pt.declared_insee,
       d.insee IS NOT NULL AS declared_exists,
       d.name AS declared_name,
       CASE WHEN d.insee IS NULL THEN false
            WHEN ST_Intersects(d.geom, pt.g) THEN true
            WHEN ST_DWithin(d.geom, pt.g, 0.01)
              THEN ST_Distance(d.geom::geography, pt.g::geography) <= :border_m
            ELSE false END AS in_declared,
       at.insee AS at_insee, at.name AS at_name, at.departement AS at_departement,
       at.region AS at_region, at.epci AS at_epci, at.vintage AS at_vintage,
       CASE WHEN at.insee IS NULL THEN NULL
            WHEN ST_Intersects(at.geom, pt.g) THEN 0
            ELSE ST_Distance(at.geom::geography, pt.g::geography) END AS dist_m,
       d.insee IS NOT NULL AND ST_Intersects(d.geom, pt.gs) AS swapped_in_declared,
       d.departement AS d_departement, d.region AS d_region, d.epci AS d_epci,
       d.vintage AS d_vintage
FROM pt
LEFT JOIN commune d ON d.insee = pt.declared_insee AND d.layer_id IN (SELECT id FROM cur)
LEFT JOIN LATERAL (
  SELECT c.insee, c.name, c.departement, c.region, c.epci, c.vintage, c.geom
  FROM commune c
  WHERE c.layer_id IN (SELECT id FROM cur) AND ST_DWithin(c.geom, pt.g, 0.01)
  ORDER BY ST_Distance(c.geom, pt.g), c.insee
  LIMIT 1
) at ON true
"""


def _location_result(row: Any) -> LocationResult:
    errors: FieldErrors = []
    located = row.at_insee is not None and row.dist_m <= COAST_TOLERANCE_M
    if not row.declared_exists:
        errors.append(
            {
                "field": "location.declared_insee",
                "reason": f"no commune {row.declared_insee} in the current commune layer",
            }
        )
    if row.in_declared:
        # In the declared commune (or on its border within the tolerance): its codes.
        return LocationResult(
            row.key,
            row.declared_insee,
            row.d_departement,
            row.d_region,
            row.d_epci,
            row.d_vintage,
            errors,
        )
    if row.swapped_in_declared:
        errors.append(
            {
                "field": "location",
                "reason": (
                    f"latitude and longitude look swapped: ({row.lon}, {row.lat}) is not in"
                    f" {row.declared_name} ({row.declared_insee}) but (lon={row.lat},"
                    f" lat={row.lon}) is; send lon={row.lat}, lat={row.lon}"
                ),
            }
        )
    elif not located:
        errors.append(
            {
                "field": "location",
                "reason": (
                    f"the point (lon={row.lon}, lat={row.lat}) is not in France (mainland,"
                    " Corsica or the five overseas départements): no commune within"
                    f" {COAST_TOLERANCE_M} m — at sea or abroad?"
                ),
            }
        )
    elif row.declared_exists:
        errors.append(
            {
                "field": "location.declared_insee",
                "reason": (
                    f"the point is not in {row.declared_name} ({row.declared_insee}): it falls"
                    f" in {row.at_name} ({row.at_insee})"
                ),
            }
        )
    if located:
        return LocationResult(
            row.key,
            row.at_insee,
            row.at_departement,
            row.at_region,
            row.at_epci,
            row.at_vintage,
            errors,
        )
    return LocationResult(row.key, None, None, None, None, None, errors)


def check_locations_in(session: Session, source: str, params: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """Run the location check over `source` (a table or subquery aliased `s`, with columns
    `key, lon, lat, declared_insee`); yields one `LocationResult` per row."""
    sql = text(LOCATION_CHECK_SQL.format(src=source))
    rows = session.execute(sql, {"border_m": BORDER_TOLERANCE_M, **(params or {})})
    for row in rows:
        yield _location_result(row)


def check_locations(
    session: Session, inputs: Sequence[LocationInput] | Iterable[LocationInput]
) -> dict[str, LocationResult]:
    """The location check for a few rows given in Python (a VALUES list)."""
    inputs = list(inputs)
    if not inputs:
        return {}
    values = ", ".join(
        f"(CAST(:k{i} AS text), CAST(:x{i} AS float8), CAST(:y{i} AS float8), CAST(:c{i} AS text))"
        for i in range(len(inputs))
    )
    params: dict[str, Any] = {}
    for i, item in enumerate(inputs):
        params |= {
            f"k{i}": item.key,
            f"x{i}": item.lon,
            f"y{i}": item.lat,
            f"c{i}": item.declared_insee,
        }
    source = f"(VALUES {values}) AS s(key, lon, lat, declared_insee)"
    return {r.key: r for r in check_locations_in(session, source, params)}
