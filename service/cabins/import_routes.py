"""The bulk import routes (design.md §6): `POST /v1/cabins/import` takes a CSV or NDJSON body
read as a stream (415 for other types, 413 above the body limit), honours `Idempotency-Key`,
runs small files in the request and large ones (or on `Prefer: respond-async`) as a job;
`GET /v1/imports/{id}` gives a job's state, progress and report."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from service.auth.deps import OperatorPrincipal, Principal
from service.cabins.importer import ImportOptions, run_import
from service.cabins.imports import jobs
from service.cabins.imports.models import ImportJob
from service.cabins.imports.parse import (
    check_file,
    count_rows,
    declared_codec,
    media_kind,
    to_utf8,
)
from service.cabins.imports.schemas import ImportJobRead
from service.cabins.service import owner_of, owner_problems
from service.cabins.vocabulary import ImportMode
from service.db import DbSession
from service.errors import (
    PROBLEM_MEDIA_TYPE,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    problem_responses,
)
from service.routing import ApiRoute, any_query

router = APIRouter(tags=["imports"], route_class=ApiRoute)

# Above this many records an import runs as a job (202 + GET /v1/imports/{id}).
ASYNC_ROWS = 20_000


async def read_upload(request: Request) -> tuple[str, bytes]:
    """The body, read as a stream: its kind (csv or ndjson) and its bytes in UTF-8, read in
    the charset its Content-Type declares (checked before the body is read) or its
    byte-order mark gives. From here on the file is UTF-8, whatever charset it came in: the
    Idempotency-Key's digest, the row count, COPY and the job all read the same text."""
    content_type = request.headers.get("content-type")
    kind = media_kind(content_type)
    codec = declared_codec(content_type, kind)
    # A body over MAX_BODY_BYTES is refused by BodyLimitMiddleware (its stream ends there).
    # A body cut off mid-upload ends the stream with ClientDisconnect: the error handlers'
    # 400 (errors.cut_off), nothing imported.
    body = await request.body()
    # Decoding a large file takes a while: not on the event loop.
    return kind, await run_in_threadpool(to_utf8, body, codec, kind)


Upload = Annotated[tuple[str, bytes], Depends(read_upload)]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "CSV (columns: schemas/cabin-import.tableschema.json; `,`, `;` or tab;"
        " UTF-8 with or without BOM, or the charset Content-Type declares: windows-1252,"
        " ISO-8859-1, ISO-8859-15, UTF-16, US-ASCII) or NDJSON (one cabin JSON object per"
        " line, the shape of POST /v1/cabins; UTF-8).",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


def _owner(session: DbSession, principal: Principal, operator_id: uuid.UUID | None) -> uuid.UUID:
    problems = owner_problems(session, principal, operator_id)
    if problems:
        raise ValidationFailed("The cabins cannot belong to that operator.", errors=problems)
    return owner_of(principal, operator_id)


def _job_response(job: ImportJob, status: int) -> Response:
    body = jobs.read(job).model_dump(mode="json")
    headers = {"Location": f"/v1/imports/{job.id}"}
    if status == 422:
        problem = ValidationFailed(
            job.detail or "Some rows are not valid; nothing was written.",
            errors=job.errors,
            import_id=str(job.id),
            warnings=job.warnings,
        )
        return Response(
            orjson.dumps(problem.body(f"/v1/imports/{job.id}")),
            status_code=422,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=headers,
        )
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def _replay(job: ImportJob, body_sha256: str, sent: Mapping[str, object]) -> Response:
    """The first answer to an upload sent again with its Idempotency-Key; a 422 when the key
    came with another body, or with other options: a real import retried under the key of
    its dry run would otherwise get the dry run's answer, and nothing written."""
    stored: dict[str, object] = {
        "mode": job.mode,
        "dry_run": job.dry_run,
        "operator_id": job.operator_id,
        "Content-Type": job.media_type,
    }
    other = [
        f"{name}={str(value).lower() if isinstance(value, bool) else value}"
        for name, value in stored.items()
        if sent[name] != value
    ]
    if job.body_sha256 != body_sha256:
        other.insert(0, "another body")
    if other:
        raise ValidationFailed(
            "This Idempotency-Key was used for a different upload.",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "reason": f"already used by import {job.id} with {', '.join(other)};"
                    " use a new key",
                }
            ],
        )
    if job.response_status is None:
        return _job_response(job, 202)  # a job still running: the same answer as at first
    return _job_response(job, job.response_status)


@router.post(
    "/v1/cabins/import",
    response_model=ImportJobRead,
    responses={
        202: {"model": ImportJobRead, "description": "Accepted: a job; follow Location."},
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
    openapi_extra=UPLOAD_BODY,
    summary="Import cabins in bulk (CSV or NDJSON), upserted by operator_reference",
)
def import_cabins(
    request: Request,
    session: DbSession,
    principal: OperatorPrincipal,
    upload: Upload,
    mode: Annotated[
        ImportMode,
        Query(description="atomic: any bad row and nothing is written; partial: good rows are."),
    ] = "atomic",
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing.")] = False,
    operator_id: Annotated[
        uuid.UUID | None, Query(description="The owner, for an admin key only.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="A retried upload with the same key, body and options is answered as"
            " the first time, and writes nothing again; another body, or another mode, dry_run"
            " or operator_id, with the same key is a 422.",
        ),
    ] = None,
    prefer: Annotated[
        str | None,
        Header(alias="Prefer", max_length=200, description="`respond-async` for a job."),
    ] = None,
) -> Response:
    kind, body = upload
    owner = _owner(session, principal, operator_id)
    if idempotency_key is not None:
        previous = jobs.by_key(session, principal.client_id, idempotency_key)
        if previous is not None:
            sent = {"mode": mode, "dry_run": dry_run, "operator_id": owner, "Content-Type": kind}
            return _replay(previous, jobs.digest(body), sent)
    settings = request.app.state.settings
    rows = count_rows(body) - (1 if kind == "csv" else 0)
    if rows > settings.bulk_max_rows:
        raise PayloadTooLarge(
            f"An import holds at most {settings.bulk_max_rows} rows; split the file.",
            errors=[{"field": "body", "reason": f"{rows} rows"}],
        )
    options = ImportOptions(mode=mode, dry_run=dry_run)
    # The job's record, in this request's transaction or in the job's own (a key taken
    # concurrently is errors.CONCURRENTLY_TAKEN's 409 in either).
    record = functools.partial(
        jobs.new_job,
        operator_id=owner,
        client_id=principal.client_id,
        idempotency_key=idempotency_key,
        body=body,
        media_type=kind,
        options=options,
    )
    wants_async = prefer is not None and "respond-async" in prefer.lower()
    if wants_async or rows > ASYNC_ROWS:
        check_file(body, kind)  # the file's own problems: answered now, not as a failed job
        return _start_job(request, record, rows, principal, owner, body, kind, options)

    with session.begin_nested():
        job = record(session, state="running")
    report = run_import(
        session, operator_id=owner, actor=principal.actor, body=body, kind=kind, options=options
    )
    status = jobs.status_of(report)
    jobs.finish(job, report, status)
    session.flush()
    return _job_response(job, status)


def _start_job(
    request: Request,
    record: Callable[..., ImportJob],
    rows: int,
    principal: Principal,
    owner: uuid.UUID,
    body: bytes,
    kind: str,
    options: ImportOptions,
) -> Response:
    """Record the job in its own committed transaction, then run it in the background."""
    factory = request.app.state.sessionmaker
    with factory() as own:
        job = record(own, state="queued", rows_total=rows)
        own.commit()
        response = _job_response(job, 202)
    jobs.run_in_background(
        factory,
        options.job_id,  # type: ignore[arg-type]
        operator_id=owner,
        actor=principal.actor,
        body=body,
        kind=kind,
        options=options,
    )
    return response


@router.api_route(
    "/v1/cabins/import",
    methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
@any_query
def import_other_methods(request: Request) -> Response:
    """`/v1/cabins/import` is not a cabin id: other methods are a 405, not a malformed id."""
    raise MethodNotAllowed(
        f"{request.method} is not allowed on /v1/cabins/import; use POST.",
        headers={"Allow": "POST"},
    )


@router.get(
    "/v1/imports/{import_id}",
    response_model=ImportJobRead,
    responses=problem_responses(400, 401, 403, 404),
    summary="An import: state, rows done / total, and the per-row report",
)
def get_import(
    import_id: uuid.UUID, session: DbSession, principal: OperatorPrincipal
) -> ImportJobRead:
    owner = principal.operator_id if principal.role == "operator" else None
    job = jobs.get(session, import_id, owner)
    if job is None:
        raise NotFound(f"No import {import_id}.")
    return jobs.read(job)
