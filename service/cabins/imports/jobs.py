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

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.audit.trail import Actor
from service.cabins.importer import ImportOptions, ImportReport, run_import
from service.cabins.imports.models import ImportJob
from service.cabins.imports.schemas import ImportJobRead
from service.errors import Problem

log = logging.getLogger("service.cabins.imports")


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def by_key(session: Session, client_id: uuid.UUID | None, key: str) -> ImportJob | None:
    return session.scalar(
        select(ImportJob).where(ImportJob.client_id == client_id, ImportJob.idempotency_key == key)
    )


def get(session: Session, job_id: uuid.UUID, operator_id: uuid.UUID | None) -> ImportJob | None:
    """A job its operator may see (any job for `operator_id=None`, i.e. an admin)."""
    stmt = select(ImportJob).where(ImportJob.id == job_id)
    if operator_id is not None:
        stmt = stmt.where(ImportJob.operator_id == operator_id)
    return session.scalar(stmt)


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
        _set(factory, job_id, state="running", started_at=datetime.now(UTC))
        try:
            with factory() as session:
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
            if isinstance(exc, Problem):
                detail = exc.detail or exc.title
                errors = [e.model_dump(exclude_none=True) for e in exc.errors]
            else:
                detail, errors = "The import stopped on an unexpected error.", []
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
