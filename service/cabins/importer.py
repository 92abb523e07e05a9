"""The bulk import of cabins: parse the body (CSV or NDJSON), check each record with the
registry's own validation, COPY the good ones into a staging table, locate them against the
current commune layer and look for possible duplicates with set-based SQL, then — unless it
is a dry run, or an atomic import with a bad row — upsert them into `cabin` by the operator's
own reference in one statement, append their audit events in one COPY and have the rule
engine evaluate them in one call. Everything happens in the caller's transaction; nothing
here commits."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import timespans
from service.audit.trail import Actor
from service.cabins.imports import setbased, staging
from service.cabins.imports.audit_bulk import append_many
from service.cabins.imports.columns import cell_reason
from service.cabins.imports.parse import (
    CONTENT_TYPE,
    Declaration,
    Record,
    decode,
    records_in,
)
from service.cabins.models import Cabin
from service.cabins.records import (
    columns_of,
    confirmation_diff,
    confirmed_blocks,
    document_of,
    flat_diff,
)
from service.cabins.schemas import CabinCreate
from service.cabins.service import KEPT_AS_IT_WAS, draw_reference, seen_by_neighbours
from service.cabins.validation import LocationInput, check_record, read_record
from service.cabins.vocabulary import ImportMode
from service.db import local_setting
from service.errors import Conflict

if TYPE_CHECKING:  # a type only: the rule engine imports the cabin model
    from service.rules.evaluator import Point

PROGRESS_EVERY = 5000

Progress = Callable[[int, int], None]


class ConcurrentImport(Conflict):
    """A reference of the file was created by another transaction during the import."""


_CREATED_MEANWHILE = (
    "A cabin with a reference of this file was created while it was being imported;"
    " nothing was written. Send the file again (with a new Idempotency-Key: a job's key"
    " answers its outcome)."
)


@dataclass
class ImportOptions:
    mode: ImportMode = "atomic"
    dry_run: bool = False
    is_demo: bool = False
    evaluate: bool = True  # have the rule engine evaluate the written cabins
    job_id: uuid.UUID | None = None
    today: date | None = None
    declared: Declaration = CONTENT_TYPE  # where a refusal of its charset says to declare it


@dataclass
class ImportReport:
    state: str  # succeeded | rejected
    rows_total: int
    rows_invalid: int
    created: int
    updated: int
    unchanged: int
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    written_ids: list[uuid.UUID] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Checked:
    good: dict[int, CabinCreate]
    errors: list[dict[str, Any]]
    total: int
    # The points of the refused rows whose location fields are readable: checked against the
    # commune layer too, so that a row's report lists every error at once.
    refused_locations: list[LocationInput] = field(default_factory=list)


def _check(
    records: list[Record],
    operator_id: uuid.UUID,
    today: date,
    progress: Progress | None,
    total: int | None = None,
    *,
    cells: bool = False,
) -> _Checked:
    """The record-level checks, row by row in memory (types and formats, checksums, OSM hours,
    dates), as a single write runs them (`read_record`, `check_record`): a field that fails
    its type does not hide the row's other errors. The database checks come after, over the
    staging table. `total` counts the rows of the file, when SQL has certified the others;
    `cells`: the records are CSV rows, whose cells say what they read in their own words."""
    good: dict[int, CabinCreate] = {}
    errors: list[dict[str, Any]] = []
    refused: list[LocationInput] = []
    seen: dict[str, int] = {}
    total = len(records) if total is None else total
    for done, record in enumerate(records, start=1):
        if progress and done % PROGRESS_EVERY == 0:
            progress(done // 2, total)
        row = record.row
        if record.errors or record.data is None:
            errors += [{"row": row, **e} for e in record.errors]
            continue
        data = record.data
        problems: list[dict[str, Any]] = []
        owner = data.pop("operator_id", None)
        if owner is not None and str(owner) != str(operator_id):
            problems.append({"field": "operator_id", "reason": "not the importing operator"})
        reading = read_record(data, whole="row", explain=cell_reason if cells else None)
        readable = reading.readable
        problems += reading.errors
        if readable is not None:
            problems += reading.without_consequences(check_record(readable, today))
            reference = readable.operator_reference
            first = seen.setdefault(reference, row) if reference is not None else row
            if first != row:
                problems.append(
                    {
                        "field": "operator_reference",
                        "reason": f"{reference!r} is already used by row {first}",
                    }
                )
        if problems or reading.cabin is None:
            errors += [{"row": row, **p} for p in problems]
            point = reading.location(str(row))
            if point is not None:
                refused.append(point)
            continue
        good[row] = reading.cabin
    return _Checked(good, errors, total, refused)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def staged_columns(doc: dict[str, Any]) -> dict[str, Any]:
    """The column values of `service.cabins.records.columns_of`, from the record's JSON dump
    (dates as ISO text, which COPY reads): the dump is made once per row and serves the
    staging table and the audit event both. A test holds the two mappings together."""
    location = doc["location"]
    address = location.get("address") or {}
    venue = doc["venue"]
    declarations = doc.get("declarations") or {}
    concertation = declarations.get("concertation")
    return {
        "address_number": address.get("number"),
        "address_street": address.get("street"),
        "address_postcode": address.get("postcode"),
        "address_commune_name": address.get("commune_name"),
        "declared_insee": location["declared_insee"],
        "venue_kind": venue["kind"],
        "venue_description": venue.get("description"),
        "venue_name": venue.get("name"),
        "venue_siret": venue.get("siret"),
        "venue_finess": venue.get("finess"),
        "venue_naf": venue.get("naf"),
        "venue_building_regime": venue.get("building_regime"),
        "venue_cabin_count": venue.get("cabin_count"),
        "ars_declaration_date": declarations.get("ars_declaration_date"),
        "ars_declaration_reference": declarations.get("ars_declaration_reference"),
        "cpam_informed_date": declarations.get("cpam_informed_date"),
        "cpts_informed_date": declarations.get("cpts_informed_date"),
        "concertation_date": concertation["date"] if concertation else None,
        "concertation_parties": concertation["parties"] if concertation else None,
        "opening_hours": doc.get("opening_hours"),
        "siting": doc.get("siting") or {},
        "care_links": doc.get("care_links") or [],
        "provider": doc.get("provider"),
        "fees": doc.get("fees"),
        "accessibility": doc.get("accessibility") or {},
    }


def _staged_rows(
    good: dict[int, CabinCreate], documents: dict[int, dict[str, Any]]
) -> Iterator[tuple[Any, ...]]:
    names = [name for name, _ in staging.RECORD_COLUMNS]
    jsonb = staging.JSONB_COLUMNS
    for row, cabin in good.items():
        doc = documents[row] = _created_document(cabin)
        values = staged_columns(doc)
        yield (
            row,
            cabin.operator_reference,
            draw_reference(),
            cabin.location.lon,
            cabin.location.lat,
            *(_json(values[n]) if n in jsonb else values[n] for n in names),
            confirmed_blocks(cabin.model_fields_set),
        )


def _document(cabin: CabinCreate) -> dict[str, Any]:
    """The record as `document_of` shows a stored cabin, so old and new compare exactly."""
    values = columns_of(cabin)
    values.pop("geom")
    return document_of(Cabin(**values), cabin.location.lon, cabin.location.lat)


def _created_document(cabin: CabinCreate) -> dict[str, Any]:
    """The new record for a create event: the same leaves as `_document`, without the
    round trip through a table row (nulls and the owner left out)."""
    return cabin.model_dump(mode="json", exclude_none=True, exclude={"operator_id"})


def _sorted(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(problems, key=lambda p: p["row"])


class _Laps:
    """Seconds spent in each phase, for the report (and the benchmark)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = round(self.into.get(phase, 0.0) + now - self.last, 3)
        self.last = now


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The records of a large file are many small long-lived objects: a cyclic collection
    every few hundred allocations would rescan them all, again and again. None of them form
    cycles, so the collector waits until the import is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_import(
    session: Session,
    *,
    operator_id: uuid.UUID,
    actor: Actor,
    body: bytes,
    kind: str,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV or NDJSON body for one operator; see the module docstring.

    Its statements run with jit off, set for the transaction and put back after the import
    (as the rule engine's set-based pass does): they are large expressions over every row of
    the file, planned with the row counts of temporary tables not yet analysed, which the JIT
    compiled anew for each statement — 0.3–0.8 s apiece for the location and duplicate
    checks of 100,000 rows, more than their own execution, and about 3.5 s of PostgreSQL CPU
    over the whole import, for nothing it made faster."""
    with _gc_paused(), local_setting(session, "jit", "off"):
        return _run_import(session, operator_id, actor, body, kind, options, progress)


def _run_import(
    session: Session,
    operator_id: uuid.UUID,
    actor: Actor,
    body: bytes,
    kind: str,
    options: ImportOptions | None,
    progress: Progress | None,
) -> ImportReport:
    options = options or ImportOptions()
    today = options.today or timespans.today()
    timings: dict[str, float] = {}
    lap = _Laps(timings)
    text = decode(body, options.declared)
    plan = setbased.plan(text) if kind == "csv" else None
    if plan is not None and not setbased.load(session, plan):
        plan = None
    lap("parse")
    certified = 0
    if plan is not None:
        classified = setbased.classify(session, plan, operator_id, today)
        records, total, certified = classified.python_rows, classified.total, classified.certified
    else:
        # A file with no record raises here: `setbased.plan` leaves such a file to this reader.
        records = list(records_in(text, kind))
        total = len(records)
    checked = _check(records, operator_id, today, progress, total, cells=kind == "csv")
    lap("check_records")
    if progress:
        progress(total // 2, total)  # validated: half-way
    errors = checked.errors
    errors += [
        {"row": p.row, "field": p.field, "reason": p.reason}
        for p in staging.locate_rejected(session, checked.refused_locations)
    ]
    lap("locate_rejected")
    warnings: list[dict[str, Any]] = []
    good = checked.good
    documents: dict[int, dict[str, Any]] = {}
    report = ImportReport("succeeded", checked.total, 0, 0, 0, 0, errors, warnings)
    report.timings = timings
    staged = len(good) + certified
    update_diffs: dict[int, dict[str, Any]] = {}
    unchanged: list[int] = []
    # The active cabins whose rows move them, with their points before: SIT-10 re-evaluates
    # the cabins around the old and new points (`evaluate_rules`). A row never changes a
    # status, and a new cabin is a draft, which no other cabin counts.
    moved: dict[uuid.UUID, Point | None] = {}

    if staged:
        staging.create_staging(session)
        if good:
            staging.copy_rows(session, _staged_rows(good, documents))
        if plan is not None and certified:
            setbased.stage(session, plan)
        staging.analyze(session)
        lap("stage_copy")
        located_problems = staging.locate(session)
        lap("locate")
        errors += [{"row": p.row, "field": p.field, "reason": p.reason} for p in located_problems]
        bad_rows = {p.row for p in located_problems}
        staging.discard_rows(session, bad_rows)
        staged -= len(bad_rows)
        for row in bad_rows:
            good.pop(row, None)
        warnings += [
            {"row": w.row, "field": w.field, "reason": w.reason}
            for w in staging.possible_duplicates(session, operator_id)
        ]
        lap("duplicates")
        # Rows that would update a cabin: unchanged ones are left alone, the others get a
        # diff; a decommissioned cabin is kept as it was (as PATCH says), so changing one is
        # the row's error. (Only rows checked in Python can match a stored cabin: SQL
        # certifies no row whose reference the operator already holds.)
        # A row re-sent as it is stored still confirms the blocks it carries (SIT-20), as
        # PATCH does: a new version whose diff is `last_confirmed_at.<block>`.
        frozen: list[int] = []
        # The upsert writes now(), the transaction's time: the diffs say the same.
        confirmed_at = session.execute(select(func.now())).scalar_one()
        for row, cabin, lon, lat in staging.existing_cabins(session, operator_id):
            diff = flat_diff(document_of(cabin, lon, lat), _document(good[row]))
            blocks = confirmed_blocks(good[row].model_fields_set)
            # (The demo loader re-sends its fixed records: no one confirms anything by them,
            # and loading the demo again changes nothing.)
            if not diff and (not blocks or cabin.status == "decommissioned" or options.is_demo):
                unchanged.append(row)
            elif cabin.status == "decommissioned":
                frozen.append(row)
                errors.append(
                    {
                        "row": row,
                        "field": "operator_reference",
                        "reason": f"{cabin.operator_reference!r} is cabin {cabin.reference},"
                        f" decommissioned: it {KEPT_AS_IT_WAS}"
                        " (a new cabin needs a new operator_reference)",
                    }
                )
            else:
                update_diffs[row] = diff | confirmation_diff(cabin, blocks, confirmed_at)
                active = cabin.status == "active"
                point = (good[row].location.lon, good[row].location.lat)
                moved |= seen_by_neighbours(cabin.id, active, active, (lon, lat), point) or {}
        staging.discard_rows(session, frozen)
        staged -= len(frozen)
        for row in frozen:
            good.pop(row, None)
        lap("existing")
        if progress:
            progress(total * 3 // 4, total)  # located

    report.errors = _sorted(errors)
    report.warnings = _sorted(warnings)
    report.rows_invalid = len({e["row"] for e in errors})
    if errors and options.mode == "atomic":
        report.state = "rejected"
        if staged or good:
            staging.drop_staging(session)
        return report
    if not staged:
        return report

    report.unchanged = len(unchanged)
    report.updated = len(update_diffs)
    report.created = staged - len(update_diffs) - len(unchanged)
    if options.dry_run:
        staging.drop_staging(session)
        return report

    for row in staging.free_references(session):
        staging.redraw_reference(session, row, draw_reference())
    staging.discard_rows(session, unchanged)
    try:
        written = staging.upsert(session, operator_id, options.is_demo, updates=bool(update_diffs))
    except staging.CreatedMeanwhile:
        raise ConcurrentImport(_CREATED_MEANWHILE) from None
    lap("upsert")
    if progress:
        progress(checked.total, checked.total)
    row_of = {cabin.operator_reference: row for row, cabin in good.items()}
    reason = f"import {options.job_id}" if options.job_id else "import"
    events: list[tuple[int, str, str, str, dict[str, Any] | str]] = []
    for w in written:
        found = row_of.get(w.operator_reference)
        if found is None:
            continue  # certified by SQL: its event is built in SQL below
        row = found
        if not w.inserted and row not in update_diffs:
            raise ConcurrentImport(_CREATED_MEANWHILE)
        if w.inserted:
            diff = {
                "reference": [None, w.reference],
                "status": [None, "draft"],
                **flat_diff(None, documents[row]),
            }
            events.append((row, "cabin.create", "cabin", str(w.id), diff))
        else:
            events.append((row, "cabin.update", "cabin", str(w.id), update_diffs[row]))
    if plan is not None and certified:
        for row, cabin_id, inserted, diff_text in setbased.created_events(session, plan):
            if not inserted:  # another transaction created that reference meanwhile
                raise ConcurrentImport(_CREATED_MEANWHILE)
            events.append((row, "cabin.create", "cabin", cabin_id, diff_text))
    events.sort(key=lambda event: event[0])  # the trail follows the file's rows
    lap("audit_diffs")
    append_many(session, actor, [event[1:] for event in events], reason)
    lap("audit")
    report.written_ids = [w.id for w in written]
    staging.drop_staging(session)

    if options.evaluate:
        from service.cabins.service import evaluate_rules

        evaluate_rules(session, report.written_ids, moved)
        lap("rules")
    return report
