"""Import jobs: recording an import and its outcome in `import_job`, finding a previous
upload by its `Idempotency-Key`, and running a large import in the background with its
progress (rows done / total) written as it goes."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, column, exists, func, or_, select, table, text, update
from sqlalchemy.orm import Session, sessionmaker

from service.audit.trail import Actor
from service.cabins.importer import ImportOptions, ImportReport, run_import
from service.cabins.imports.models import ImportJob
from service.cabins.imports.schemas import ImportJobRead
from service.errors import (
    Problem,
    rolled_back_by_conflict,
    stopped_at_time_limit,
    waited_for_lock,
)

log = logging.getLogger("service.cabins.imports")


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


INTERRUPTED = (
    "The import was interrupted: the service stopped before it finished, and nothing was"
    " written. Upload the file again (with a new Idempotency-Key)."
)
# A queued job whose background import never reported its backend within this delay was lost
# with the process that accepted it.
NEVER_STARTED = text("interval '1 minute'")
ACTIVITY = table("pg_stat_activity", column("pid"), column("backend_start"))


def mark_interrupted(session: Session, job_id: uuid.UUID | None = None) -> int:
    """Jobs still `queued` or `running` whose import is no longer running anywhere become
    `failed`: their PostgreSQL backend is gone (the process that ran them stopped; the
    transaction, and so every row it wrote, was rolled back with it), or they never started.
    A backend is the job's only if it started before the job did (a pid can be reused)."""
    alive = exists().where(
        ACTIVITY.c.pid == ImportJob.backend_pid,
        ACTIVITY.c.backend_start <= ImportJob.started_at,
    )
    stmt = (
        update(ImportJob)
        .where(
            ImportJob.state.in_(("queued", "running")),
            or_(
                and_(ImportJob.backend_pid.is_not(None), ~alive),
                and_(
                    ImportJob.backend_pid.is_(None),
                    ImportJob.created_at < func.now() - NEVER_STARTED,
                ),
            ),
        )
        .values(state="failed", detail=INTERRUPTED, finished_at=func.now())
    )
    if job_id is not None:
        stmt = stmt.where(ImportJob.id == job_id)
    return session.execute(stmt).rowcount  # type: ignore[attr-defined, no-any-return]


def get(session: Session, job_id: uuid.UUID, operator_id: uuid.UUID | None) -> ImportJob | None:
    """A job its operator may see (any job for `operator_id=None`, i.e. an admin), after
    marking it failed if its import was interrupted."""
    mark_interrupted(session, job_id)
    stmt = select(ImportJob).where(ImportJob.id == job_id)
    if operator_id is not None:
        stmt = stmt.where(ImportJob.operator_id == operator_id)
    return session.scalar(stmt)


def by_key(session: Session, client_id: uuid.UUID | None, key: str) -> ImportJob | None:
    """The client's upload under this Idempotency-Key, marked failed first if its import was
    interrupted (a retry after the service stopped is answered `failed`, not `running`)."""
    found = select(ImportJob.id).where(
        ImportJob.client_id == client_id, ImportJob.idempotency_key == key
    )
    job_id = session.scalar(found)
    if job_id is None:
        return None
    mark_interrupted(session, job_id)
    return session.get(ImportJob, job_id, populate_existing=True)


def new_job(
    session: Session,
    *,
    operator_id: uuid.UUID,
    client_id: uuid.UUID | None,
    idempotency_key: str | None,
    body: bytes,
    media_type: str,
    options: ImportOptions,
    state: str,
    rows_total: int | None = None,
) -> ImportJob:
    job = ImportJob(
        id=uuid.uuid4(),
        operator_id=operator_id,
        client_id=client_id,
        idempotency_key=idempotency_key,
        body_sha256=digest(body),
        media_type=media_type,
        mode=options.mode,
        dry_run=options.dry_run,
        state=state,
        rows_total=rows_total,
        rows_done=0,
        rows_invalid=0,
        created=0,
        updated=0,
        unchanged=0,
        errors=[],
        warnings=[],
        created_at=datetime.now(UTC),
        started_at=datetime.now(UTC) if state == "running" else None,
    )
    session.add(job)
    session.flush()
    options.job_id = job.id
    return job


def finish(job: ImportJob, report: ImportReport, status: int) -> None:
    job.state = report.state
    job.rows_total = report.rows_total
    job.rows_done = report.rows_total
    job.rows_invalid = report.rows_invalid
    job.created = report.created
    job.updated = report.updated
    job.unchanged = report.unchanged
    job.errors = report.errors
    job.warnings = report.warnings
    job.response_status = status
    job.finished_at = datetime.now(UTC)
    if report.state == "rejected":
        job.detail = (
            f"{report.rows_invalid} of {report.rows_total} rows are not valid;"
            " nothing was written (mode=atomic)."
        )


def read(job: ImportJob) -> ImportJobRead:
    return ImportJobRead.model_validate(job, from_attributes=True)


def status_of(report: ImportReport) -> int:
    return 422 if report.state == "rejected" else 200


def _set(factory: sessionmaker[Session], job_id: uuid.UUID, **values: Any) -> None:
    with factory() as session:
        session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
        session.commit()


# Why a job's import stopped, when the database stopped it (a statement cancelled at its time
# limit; a transaction rolled back by a deadlock or a serialization failure; a wait for a lock
# cut at the lock timeout): the words of its `detail`, saying what to do.
TOO_LONG = (
    "The import stopped: one of its steps took longer than the database allows a statement"
    " of the service; nothing was written. Split the file and send the parts (each with a"
    " new Idempotency-Key)."
)
ROLLED_BACK = (
    "The import stopped: it conflicted with a concurrent write to the same cabins, and the"
    " database rolled it back; nothing was written. Send the file again (with a new"
    " Idempotency-Key)."
)
WAITED = (
    "The import stopped: it waited as long as a statement may for a long write to end (a rule"
    " set being put in force, every cabin being re-evaluated, or another import); nothing was"
    " written. Send the file again in a minute (with a new Idempotency-Key)."
)
UNEXPECTED = "The import stopped on an unexpected error."


def stopped_by(exc: Exception) -> tuple[str, list[dict[str, Any]]]:
    """The detail and errors a failed job records for the exception that stopped it."""
    if isinstance(exc, Problem):
        return exc.detail or exc.title, [e.model_dump(exclude_none=True) for e in exc.errors]
    if stopped_at_time_limit(exc):
        return TOO_LONG, []
    if rolled_back_by_conflict(exc):
        return ROLLED_BACK, []
    if waited_for_lock(exc):
        return WAITED, []
    return UNEXPECTED, []


def run_in_background(
    factory: sessionmaker[Session],
    job_id: uuid.UUID,
    *,
    operator_id: uuid.UUID,
    actor: Actor,
    body: bytes,
    kind: str,
    options: ImportOptions,
) -> threading.Thread:
    """Run the import on its own connection; progress goes to the job row as it runs, and the
    outcome is committed with the cabins it wrote (one transaction)."""

    def progress(done: int, total: int) -> None:
        _set(factory, job_id, rows_done=done, rows_total=total)

    def work() -> None:
        try:
            with factory() as session:
                # the backend that holds the import's transaction: while it lives, the job runs
                pid = session.scalar(select(func.pg_backend_pid()))
                _set(factory, job_id, state="running", started_at=func.now(), backend_pid=pid)
                report = run_import(
                    session,
                    operator_id=operator_id,
                    actor=actor,
                    body=body,
                    kind=kind,
                    options=options,
                    progress=progress,
                )
                job = session.get(ImportJob, job_id)
                assert job is not None
                finish(job, report, status_of(report))
                session.commit()
        except Exception as exc:  # the job records why it stopped; nothing was written
            log.exception("import %s failed", job_id)
            detail, errors = stopped_by(exc)
            _set(
                factory,
                job_id,
                state="failed",
                detail=detail,
                errors=errors,
                finished_at=datetime.now(UTC),
            )

    thread = threading.Thread(target=work, name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread
