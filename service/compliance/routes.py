"""The regulator routes under `/v1/compliance` (design.md §6): parse, authorise, call the
queries, shape the response. A regional regulator sees its région only, a national one (or an
admin) everything, an operator its own cabins only; coverage is for regulators."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from service import paging
from service.auth.deps import AnyPrincipal, RegulatorPrincipal
from service.compliance import coverage as coverage_queries
from service.compliance import exports, filters, queries, receipts
from service.compliance.schemas import (
    Change,
    ChangePage,
    ComplianceCabin,
    ComplianceCabinPage,
    Coverage,
    CoverageBy,
    CoverageGroup,
    DeclarationReceipt,
    DeclarationReceiptRead,
    Summary,
    SummaryBy,
    UnderservedCommune,
)
from service.db import DbSession
from service.errors import NotFound, invalid_parameter, problem_responses
from service.reads import SnapshotSession
from service.routing import ApiRoute
from service.rules.models import OUTCOMES

router = APIRouter(
    prefix="/v1/compliance",
    tags=["compliance"],
    route_class=ApiRoute,
)


@router.get(
    "/cabins",
    response_model=ComplianceCabinPage,
    responses=problem_responses(400, 401, 403),
    summary="Cabins with their failing rules and evidence, filtered, in pages",
)
def list_compliance(
    request: Request,
    session: SnapshotSession,
    principal: AnyPrincipal,
    query: filters.QueryFilters,
    limit: paging.Limit = None,
    after: paging.After = None,
) -> ComplianceCabinPage:
    filters.check(session, query, principal)
    size = paging.page_size(request, limit)
    cursor = paging.uuid_cursor(after) if after is not None else None
    rows = queries.page(session, principal, query, after=cursor, limit=size + 1)
    items = [ComplianceCabin.model_validate(dict(r)) for r in rows[:size]]
    next_url = paging.next_link(request, size, rows, lambda r: r["id"].bytes)
    return ComplianceCabinPage(items=items, next=next_url)


@router.get(
    "/cabins/{cabin_id}",
    response_model=ComplianceCabin,
    responses=problem_responses(400, 401, 404),
    summary="One cabin's compliance, failing rules and evidence",
)
def read_compliance(
    cabin_id: uuid.UUID, session: SnapshotSession, principal: AnyPrincipal
) -> ComplianceCabin:
    row = queries.one(session, principal, cabin_id)
    if row is None:
        raise NotFound(f"No cabin {cabin_id}.")
    return ComplianceCabin.model_validate(dict(row))


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


COUNTS = ("cabins", "compliant", "non_compliant", "incomplete", "not_evaluated")


def _group(row: dict[str, Any], by: str) -> dict[str, Any]:
    """One `SummaryGroup`, as a plain dict: tens of thousands of communes are serialised
    straight to JSON, without a model instance per group."""
    if by == "rule":
        decided = row["compliant"] + row["non_compliant"] + row["incomplete"]
        rate = _rate(row["compliant"], decided)
    else:
        rate = _rate(row["compliant"], row["cabins"])
    return {
        "key": row["key"],
        "name": row["name"],
        **{name: int(row[name]) for name in COUNTS},
        "rate": rate,
        "failures": dict(sorted((row["failures"] or {}).items())),
        "outcomes": row.get("outcomes"),
    }


def _rule_total(cabins: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The total of by=rule: the cabins, counted by their compliance as for every other `by`
    (summing the rules' verdicts gave `cabins` = cabins × rules), and the verdicts of every
    rule together in `outcomes` (each outcome present, 0 when no verdict has it)."""
    outcomes: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for g in groups:
        for outcome, n in (g["outcomes"] or {}).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    return {
        **_group({"key": None, "name": "total", **cabins}, "region"),
        "outcomes": outcomes,
    }


@router.get(
    "/summary",
    response_model=Summary,
    responses=problem_responses(400, 401, 403),
    summary="Counts and compliance rates by région, département, commune, operator or rule",
)
def compliance_summary(
    session: SnapshotSession,
    principal: AnyPrincipal,
    query: filters.QueryFilters,
    by: Annotated[SummaryBy, Query(description="How to group the cabins.")] = "region",
) -> Response:
    filters.check(session, query, principal)
    head = {"by": by, "rule_set_version": filters.rule_set_in_force(session)}
    if by == "rule":
        groups = [_group(row, by) for row in queries.summary_by_rule(session, principal, query)]
        cabins = queries.summary(session, principal, query, "region").totals
        body = orjson.dumps({**head, "total": _rule_total(cabins, groups), "groups": groups})
    else:
        document = queries.summary(session, principal, query, by)
        total = _group({"key": None, "name": "total", **document.totals}, by)
        # the groups come serialised by PostgreSQL: spliced in, not parsed again
        body = (
            orjson.dumps({**head, "total": total})[:-1]
            + b',"groups":'
            + document.groups_json.encode()
            + b"}"
        )
    return Response(body, media_type="application/json")


def _attachment(extension: str) -> dict[str, str]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return {"Content-Disposition": f'attachment; filename="compliance-{stamp}.{extension}"'}


def _export(
    session: Session,
    principal: Any,
    query: filters.Filters,
    chunks: Any,
    media_type: str,
    extension: str,
) -> StreamingResponse:
    filters.check(session, query, principal)  # before the first byte: still a 400
    body: Iterator[bytes] = chunks(session, principal, query)
    # The first chunk is read before the response starts: it runs the query, so a statement
    # over the timeout (or the database gone) is still a 503 problem, not a 200 cut short.
    # Past that point a failure can only cut the transfer, which the client sees as incomplete.
    first = next(body, b"")
    return StreamingResponse(
        itertools.chain([first], body), media_type=media_type, headers=_attachment(extension)
    )


def _streamed(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": description, "content": {media_type: {}}},
        **problem_responses(400, 401, 403),
    }


CSV_TYPE = "text/csv; charset=utf-8"
GEOJSON_TYPE = "application/geo+json"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses=_streamed(
        "text/csv",
        "CSV following schemas/compliance-export.tableschema.json (Frictionless Table Schema).",
    ),
    summary="Export the filtered compliance rows as CSV (streamed)",
)
def export_csv(
    session: SnapshotSession, principal: AnyPrincipal, query: filters.QueryFilters
) -> StreamingResponse:
    return _export(session, principal, query, exports.csv_chunks, CSV_TYPE, "csv")


@router.get(
    "/export.geojson",
    response_class=StreamingResponse,
    responses=_streamed(GEOJSON_TYPE, "An RFC 7946 FeatureCollection, one Feature per cabin."),
    summary="Export the filtered compliance rows as GeoJSON (streamed)",
)
def export_geojson(
    session: SnapshotSession, principal: AnyPrincipal, query: filters.QueryFilters
) -> StreamingResponse:
    return _export(session, principal, query, exports.geojson_chunks, GEOJSON_TYPE, "geojson")


@router.get(
    "/export.xlsx",
    response_class=StreamingResponse,
    responses=_streamed(XLSX_TYPE, "A workbook with one sheet, the CSV's columns."),
    summary="Export the filtered compliance rows as an Excel workbook (streamed)",
)
def export_xlsx(
    session: SnapshotSession, principal: AnyPrincipal, query: filters.QueryFilters
) -> StreamingResponse:
    return _export(session, principal, query, exports.xlsx_chunks, XLSX_TYPE, "xlsx")


def _coverage_group(row: dict[str, Any]) -> CoverageGroup:
    return CoverageGroup(
        code=row["code"],
        name=row["name"],
        communes=row["communes"],
        communes_beyond=row["communes_beyond"],
        population=row["population"],
        population_beyond=row["population_beyond"],
        share_beyond=_rate(row["population_beyond"], row["population"]),
        accessible_cabins=row["accessible_cabins"],
    )


@router.get(
    "/coverage",
    response_model=Coverage,
    responses=problem_responses(400, 401, 403),
    summary="Population beyond a radius from an active accessible cabin; under-served communes",
)
def compliance_coverage(
    session: SnapshotSession,
    principal: RegulatorPrincipal,
    by: Annotated[CoverageBy, Query(description="How to group the communes.")] = "departement",
    radius_km: Annotated[
        float,
        Query(
            ge=0.1,
            le=200,
            allow_inf_nan=False,
            description="Reach of a cabin, in kilometres (0.1 to 200).",
        ),
    ] = 10.0,
    region: Annotated[str | None, Query(max_length=8, description="INSEE région code.")] = None,
    departement: Annotated[
        str | None, Query(max_length=8, description="INSEE département code.")
    ] = None,
    underserved_limit: Annotated[
        int, Query(ge=0, le=5000, description="How many under-served communes to list.")
    ] = 100,
) -> Coverage:
    filters.check_territory(session, region, departement)
    filters.check_scope(session, principal, region, departement)
    result = coverage_queries.coverage(
        session,
        by=by,
        radius_km=radius_km,
        scope_region=principal.region,
        region=region,
        departement=departement,
        underserved_limit=underserved_limit,
    )
    rows = [dict(r) for r in result.groups]
    # A group whose communes all lack a population point (a commune of the layer with no
    # geometry) has no figures: it is counted in communes_without_point, not listed with
    # 0 inhabitants.
    groups = [_coverage_group(r) for r in rows if r["communes"]]
    total = _coverage_group(
        {
            "code": "total",
            "name": None,
            **{
                k: sum(r[k] for r in rows)
                for k in (
                    "communes",
                    "communes_beyond",
                    "population",
                    "population_beyond",
                    "accessible_cabins",
                )
            },
        }
    )
    underserved = [UnderservedCommune.model_validate(dict(r)) for r in result.underserved]
    return Coverage(
        by=by,
        radius_km=radius_km,
        population_placement=coverage_queries.POPULATION_PLACEMENT,
        cabins_counted=coverage_queries.CABINS_COUNTED,
        population_vintage=max((r["vintage"] for r in rows if r["vintage"]), default=None),
        total=total,
        groups=groups,
        communes_without_point=sum(r["without_point"] for r in rows),
        underserved=underserved,
        underserved_total=result.underserved_total,
        medical_zoning=result.zoning,
    )


MAX_CHANGE_ID = 2**63 - 1  # verdict_change.id is a bigint
MAX_XID = 2**64 - 1  # verdict_change.xid is an xid8
CURSOR_FORM = (
    "the `next_cursor` of the previous answer (two non-negative integers joined by a dot),"
    f" a change id from before (a non-negative integer up to {MAX_CHANGE_ID}) or 0 for the"
    " start"
)


def _number(text: str, largest: int) -> int | None:
    # ASCII digits only ('²' is a digit to str.isdigit but not to int), within the column's
    # range: a larger number is no cursor the feed ever gave (and was a 500).
    if text.isascii() and text.isdigit() and int(text) <= largest:
        return int(text)
    return None


def _parse_since(session: Session, since: str | None) -> queries.FeedPosition:
    """`<xid>.<id>` as the feed hands out, or a plain change id handed out before it ordered
    by transaction: after that change."""
    if since is None:
        return queries.FEED_START
    text = since.strip()
    xid_text, dot, id_text = text.partition(".")
    xid = _number(xid_text, MAX_XID) if dot else None
    change_id = _number(id_text if dot else text, MAX_CHANGE_ID)
    if change_id is None or (dot and xid is None):
        raise invalid_parameter("since", f"{since!r} is not a cursor: {CURSOR_FORM}")
    if xid is not None:
        return queries.FeedPosition(xid, change_id)
    if change_id == 0:
        return queries.FEED_START
    return queries.change_position(session, change_id)


def _cursor(position: queries.FeedPosition) -> str:
    return f"{position.xid}.{position.id}"


@router.get(
    "/changes",
    response_model=ChangePage,
    responses=problem_responses(400, 401),
    summary="Feed of verdict changes on the cabins in scope, after a cursor",
    description="The verdict changes (`kind` `verdict`) of the cabins in the caller's scope,"
    " in the order of the transactions that wrote them. A regional regulator's feed is its"
    " région's history: a change is in it when the cabin was in the région when it was"
    " written, and a cabin moved into another région is a `left_scope` item in the région it"
    " left (drop it) and an `entered_scope` item in the one it entered, carrying its verdicts"
    " as the feed gave them before the move; its later changes follow there as `verdict`"
    " items.",
)
def compliance_changes(
    request: Request,
    session: SnapshotSession,
    principal: AnyPrincipal,
    since: Annotated[
        str | None,
        Query(
            max_length=48,
            description="The `next_cursor` of the previous answer (opaque); 0 or none for the"
            " start. A change appears once every transaction older than the one that wrote it"
            " has ended: maybe a moment after it was committed, never skipped.",
        ),
    ] = None,
    limit: paging.Limit = None,
) -> ChangePage:
    position = _parse_since(session, since)
    size = paging.page_size(request, limit)
    rows = queries.changes(session, principal, position, size + 1)
    items = [Change.model_validate(dict(r)) for r in rows[:size]]
    if items:
        last = rows[len(items) - 1]
        position = queries.FeedPosition(int(last["xid"]), last["id"])
    return ChangePage(items=items, next_cursor=_cursor(position), has_more=len(rows) > size)


@router.post(
    "/cabins/{cabin_id}/declaration-receipt",
    response_model=DeclarationReceiptRead,
    responses=problem_responses(400, 401, 403, 404, 409, 415, 422),
    summary="Record that the ARS received the cabin's declaration (reference, date)",
)
def declaration_receipt(
    cabin_id: uuid.UUID,
    body: DeclarationReceipt,
    session: DbSession,
    principal: RegulatorPrincipal,
    response: Response,
) -> DeclarationReceiptRead:
    located, status = receipts.record_receipt(
        session, principal, cabin_id, body.reference, body.date
    )
    cabin = located.cabin
    response.headers["ETag"] = f'"{cabin.version}"'
    return DeclarationReceiptRead(
        cabin_id=cabin.id,
        reference=cabin.reference,
        ars_declaration_reference=cabin.ars_declaration_reference,
        ars_received_date=cabin.ars_received_date,
        version=cabin.version,
        compliance_status=status,
    )
