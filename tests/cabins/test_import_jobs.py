"""Imports that need committed data: a large import run as a job whose progress is read while
it runs, and an atomic import whose connection is killed mid-way (nothing is left behind).
These tests commit; they clean up their operator, keys, jobs and cabins afterwards (audit
events stay: the trail is append-only)."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.audit.trail import CLI_ACTOR
from service.auth.models import ApiClient
from service.cabins import importer
from service.cabins.imports import jobs
from service.cabins.imports.models import ImportJob
from service.cabins.models import Cabin
from tests.auth.factories import bearer, client_of, make_key, make_operator, valid_siret
from tests.cabins.conftest import Committed
from tests.locks import in_thread, waits_for_a_lock


def generated_csv(engine: Engine, count: int) -> bytes:
    """`count` valid rows, each on a point inside a real commune of the current layer."""
    with engine.connect() as conn:
        places = conn.execute(
            text(
                "SELECT insee, ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
                " SELECT insee, ST_PointOnSurface(geom) AS p FROM commune"
                " WHERE geom IS NOT NULL AND layer_id IN"
                " (SELECT id FROM layer WHERE kind = 'commune' AND is_current)"
                " ORDER BY insee LIMIT :n) c"
            ),
            {"n": count},
        ).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "operator_reference",
            "location.lon",
            "location.lat",
            "location.declared_insee",
            "venue.kind",
            "venue.name",
            "venue.siret",
        ]
    )
    for i in range(count):
        place = places[i % len(places)]
        writer.writerow(
            [
                f"J-{i}",
                place.lon,
                place.lat,
                place.insee,
                "pharmacie_officine",
                f"Pharmacie {i}",
                valid_siret(),
            ]
        )
    return out.getvalue().encode()


def cabin_count(engine: Engine, operator_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).select_from(Cabin).where(Cabin.operator_id == operator_id)
            )
            or 0
        )


def test_a_large_import_runs_as_a_job_with_progress(
    app: FastAPI, engine: Engine, committed: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 500)
    rows = 6000
    content = generated_csv(engine, rows)
    seen: list[dict[str, Any]] = []
    with TestClient(app) as client:
        started = client.post(
            "/v1/cabins/import",
            content=content,
            headers={**committed.headers, "Content-Type": "text/csv", "Prefer": "respond-async"},
        )
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["state"] == "queued" and job["rows_total"] == rows
        assert started.headers["Location"] == f"/v1/imports/{job['id']}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = client.get(started.headers["Location"], headers=committed.headers).json()
            seen.append(current)
            if current["state"] not in ("queued", "running"):
                break
            time.sleep(0.02)

    final = seen[-1]
    assert final["state"] == "succeeded", (final["rows_invalid"], final["errors"][:5])
    assert final["rows_done"] == final["rows_total"] == rows
    assert final["created"] == rows and final["errors"] == []
    assert any(s["state"] == "running" and 0 < s["rows_done"] < rows for s in seen), [
        (s["state"], s["rows_done"]) for s in seen
    ]
    assert cabin_count(engine, committed.operator_id) == rows


def test_a_connection_killed_mid_import_leaves_no_row_behind(
    engine: Engine, committed: Committed
) -> None:
    content = generated_csv(engine, 3000)
    killer = engine.connect()
    inside: dict[str, Any] = {}

    def run() -> None:
        with Session(engine) as session:
            pid = session.scalar(select(func.pg_backend_pid()))

            def progress(done: int, total: int) -> None:
                if done == total:  # the cabins are written, the transaction not committed
                    inside["written"] = session.scalar(
                        select(func.count())
                        .select_from(Cabin)
                        .where(Cabin.operator_id == committed.operator_id)
                    )
                    killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    time.sleep(0.2)

            try:
                importer.run_import(
                    session,
                    operator_id=committed.operator_id,
                    actor=CLI_ACTOR,
                    body=content,
                    kind="csv",
                    progress=progress,
                )
                session.commit()
            except Exception as exc:
                inside["error"] = exc
                session.invalidate()  # the backend is gone: no rollback to send on close

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)
    killer.close()

    assert inside.get("written") == 3000
    assert "error" in inside
    assert cabin_count(engine, committed.operator_id) == 0


def test_a_job_whose_import_stopped_with_the_service_is_reported_failed(
    client: TestClient, db: Session, engine: Engine
) -> None:
    """A job's import runs on its own backend: once that backend is gone while the job is still
    `running` (the process that ran it stopped), or a queued job never started, reading the job
    says it failed and why; a job whose backend is alive keeps running."""
    operator_id = make_operator(db, "Opérateur interrompu")
    headers = bearer(make_key(db, "operator", operator_id=operator_id))
    with engine.connect() as gone:
        gone_pid = gone.scalar(text("SELECT pg_backend_pid()"))
        gone.invalidate()  # closes the backend: its pid is no longer in pg_stat_activity
    alive_pid = db.scalar(text("SELECT pg_backend_pid()"))

    def job(state: str, pid: int | None, age: str = "0 seconds") -> uuid.UUID:
        job_id = uuid.uuid4()
        db.add(
            ImportJob(
                id=job_id,
                operator_id=operator_id,
                body_sha256="0" * 64,
                media_type="csv",
                mode="atomic",
                dry_run=False,
                state=state,
                backend_pid=pid,
                created_at=db.scalar(text(f"SELECT now() - interval '{age}'")),
                started_at=db.scalar(text("SELECT clock_timestamp()")) if pid else None,
            )
        )
        db.flush()
        return job_id

    interrupted = job("running", gone_pid)
    running = job("running", alive_pid)
    lost_in_queue = job("queued", None, age="2 minutes")
    just_queued = job("queued", None)

    def state(job_id: uuid.UUID) -> dict[str, Any]:
        r = client.get(f"/v1/imports/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    for job_id in (interrupted, lost_in_queue):
        body = state(job_id)
        assert body["state"] == "failed"
        assert body["detail"].startswith("The import was interrupted")
        assert body["finished_at"] is not None
    assert state(running)["state"] == "running"
    assert state(just_queued)["state"] == "queued"


def test_a_retry_under_the_key_of_a_job_that_stopped_with_the_service_says_it_failed(
    client: TestClient, db: Session, engine: Engine
) -> None:
    """The service was killed mid-import and the operator's script sends the file again with
    its Idempotency-Key: the answer replays the job as it is now, failed and saying why (to
    send it again under a new key), not `running` as the dead process left it."""
    operator_id = make_operator(db, "Opérateur relancé")
    headers = bearer(make_key(db, "operator", operator_id=operator_id))
    with engine.connect() as gone:
        gone_pid = gone.scalar(text("SELECT pg_backend_pid()"))
        gone.invalidate()  # the killed process's backend: no longer in pg_stat_activity
    content = generated_csv(engine, 2)
    job_id = uuid.uuid4()
    db.add(
        ImportJob(
            id=job_id,
            operator_id=operator_id,
            client_id=client_of(db, headers).id,
            idempotency_key="killed-1",
            body_sha256=jobs.digest(content),
            media_type="csv",
            mode="atomic",
            dry_run=False,
            state="running",
            backend_pid=gone_pid,
            created_at=db.scalar(text("SELECT now()")),
            started_at=db.scalar(text("SELECT clock_timestamp()")),
        )
    )
    db.flush()

    response = client.post(
        "/v1/cabins/import",
        content=content,
        headers={
            **headers,
            "Content-Type": "text/csv",
            "Idempotency-Key": "killed-1",
            "Prefer": "respond-async",
        },
    )

    assert response.headers["Location"] == f"/v1/imports/{job_id}", response.text
    body = response.json()
    assert body["state"] == "failed"
    assert body["detail"].startswith("The import was interrupted")
    assert body["finished_at"] is not None
    assert (
        db.scalar(select(func.count()).select_from(Cabin).where(Cabin.operator_id == operator_id))
        == 0
    )


@pytest.mark.parametrize(
    ("raised", "detail"),
    [
        ("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)", jobs.TOO_LONG),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$",
            jobs.ROLLED_BACK,
        ),
        ("DO $$ BEGIN RAISE EXCEPTION 'serial' USING ERRCODE = '40001'; END $$", jobs.ROLLED_BACK),
        ("DO $$ BEGIN RAISE EXCEPTION 'waited' USING ERRCODE = '55P03'; END $$", jobs.WAITED),
    ],
    ids=["statement-timeout", "deadlock", "serialization-failure", "lock-timeout"],
)
def test_a_job_the_database_stopped_says_why_and_what_to_do(
    engine: Engine,
    committed: Committed,
    monkeypatch: pytest.MonkeyPatch,
    raised: str,
    detail: str,
) -> None:
    """A job whose import the database stopped (a step past the statement time limit, a
    deadlock or serialization failure) is failed saying so and what to do, not "an
    unexpected error"; nothing of it is written."""
    content = generated_csv(engine, 2)

    def stopped(session: Session, **kwargs: Any) -> importer.ImportReport:
        importer.run_import(session, **kwargs)
        session.execute(text(raised))
        raise AssertionError("the database did not stop the import")

    monkeypatch.setattr(jobs, "run_import", stopped)
    factory = sessionmaker(engine, expire_on_commit=False)
    options = importer.ImportOptions(evaluate=False)
    with factory() as session:
        job = jobs.new_job(
            session,
            operator_id=committed.operator_id,
            client_id=None,
            idempotency_key=None,
            body=content,
            media_type="csv",
            options=options,
            state="queued",
        )
        session.commit()
    jobs.run_in_background(
        factory,
        job.id,
        operator_id=committed.operator_id,
        actor=CLI_ACTOR,
        body=content,
        kind="csv",
        options=options,
    ).join(timeout=60)

    with factory() as session:
        stored = session.get(ImportJob, job.id)
        assert stored is not None
        assert (stored.state, stored.detail) == ("failed", detail)
    assert cabin_count(engine, committed.operator_id) == 0


@pytest.mark.parametrize("kind", ["csv", "ndjson"])
def test_a_reference_created_by_another_transaction_mid_import_is_a_conflict(
    engine: Engine, committed: Committed, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Another transaction creates a cabin under a reference of the file after the import has
    looked for the operator's existing cabins: the import must not take it over as an update
    (its diff would be the wrong one); it stops with a 409 and writes nothing."""
    content = generated_csv(engine, 3)
    if kind == "ndjson":
        content = as_ndjson(content)
    first_row_only = b"\n".join(generated_csv(engine, 3).split(b"\n")[:2]) + b"\n"
    looked_up = importer.staging.free_references

    def meanwhile(session: Session) -> list[int]:
        monkeypatch.setattr(importer.staging, "free_references", looked_up)  # once
        with Session(engine) as other:
            import_unevaluated(other, committed, first_row_only, "csv")
            other.commit()
        return looked_up(session)

    monkeypatch.setattr(importer.staging, "free_references", meanwhile)
    with Session(engine) as session, pytest.raises(importer.ConcurrentImport):
        import_unevaluated(session, committed, content, kind)
    assert cabin_count(engine, committed.operator_id) == 1  # the other transaction's


def import_unevaluated(
    session: Session, committed: Committed, body: bytes, kind: str
) -> importer.ImportReport:
    """The operator's import from the command line, its cabins left unevaluated."""
    return importer.run_import(
        session,
        operator_id=committed.operator_id,
        actor=CLI_ACTOR,
        body=body,
        kind=kind,
        options=importer.ImportOptions(evaluate=False),
    )


def as_ndjson(content: bytes) -> bytes:
    """The rows of `generated_csv` as NDJSON lines."""
    return b"\n".join(
        orjson.dumps(
            {
                "operator_reference": r["operator_reference"],
                "location": {
                    "lon": float(r["location.lon"]),
                    "lat": float(r["location.lat"]),
                    "declared_insee": r["location.declared_insee"],
                },
                "venue": {
                    "kind": r["venue.kind"],
                    "name": r["venue.name"],
                    "siret": r["venue.siret"],
                },
            }
        )
        for r in csv.DictReader(io.StringIO(content.decode()))
    )


@pytest.mark.parametrize("kind", ["csv", "ndjson"])
def test_two_imports_of_the_same_new_references_in_other_orders_do_not_deadlock(
    engine: Engine, committed: Committed, kind: str
) -> None:
    """Two uploads of the same new references, rows in other orders (a sorted export and the
    spreadsheet): each writes the references in one order, the unique key's, so the second
    waits for the first instead of each holding a reference the other needs (a deadlock,
    PostgreSQL aborting one: a failed job or a 503). Here the other upload holds J-1 and then
    writes J-2 while this one, whose file runs J-2, J-1, J-0, waits: this one must not hold
    J-2 yet; it ends in the 409 of a reference created meanwhile, nothing of it written."""
    header, *lines = generated_csv(engine, 3).decode().splitlines(keepends=True)
    # J-2 on the first commune, J-0 on the last: in the file's order and the communes' alike,
    # J-2 comes first, where the unique key's order puts it last.
    row_of = {
        f"J-{2 - n}": "J-" + line.split("-", 1)[1].replace(f"{n},", f"{2 - n},", 1)
        for n, line in enumerate(lines)
    }

    def rows(*references: str) -> bytes:
        content = (header + "".join(row_of[r] for r in references)).encode()
        return content if kind == "csv" else as_ndjson(content)

    def run(session: Session, body: bytes) -> importer.ImportReport:
        return import_unevaluated(session, committed, body, kind)

    with Session(engine) as other, Session(engine) as this:
        run(other, rows("J-1"))  # uncommitted: J-1 is the other's until it ends
        pid = this.scalar(text("SELECT pg_backend_pid()"))
        waiting, outcome = in_thread(lambda: run(this, rows("J-2", "J-1", "J-0")), this)
        if not waits_for_a_lock(engine, pid):
            pytest.fail("the import never waited for the other's J-1")
        assert run(other, rows("J-2")).created == 1  # not held by the waiting import
        other.commit()
        waiting.join(timeout=60)
    assert isinstance(outcome.get("error"), importer.ConcurrentImport), outcome
    assert "new Idempotency-Key" in str(outcome["error"].detail)  # the failed job's key replays
    with engine.connect() as conn:
        written = conn.scalars(
            select(Cabin.operator_reference).where(Cabin.operator_id == committed.operator_id)
        ).all()
    assert sorted(written) == ["J-1", "J-2"]  # the other's; none of this import's


def jobs_under_key(engine: Engine, operator_id: uuid.UUID, key: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(ImportJob)
                .where(ImportJob.operator_id == operator_id, ImportJob.idempotency_key == key)
            )
            or 0
        )


@pytest.mark.parametrize(
    "prefer", [{}, {"Prefer": "respond-async"}], ids=["in-the-request", "as-a-job"]
)
def test_an_idempotency_key_taken_by_a_concurrent_upload_is_409(
    app: FastAPI,
    engine: Engine,
    committed: Committed,
    monkeypatch: pytest.MonkeyPatch,
    prefer: dict[str, str],
) -> None:
    """Two uploads with one key at once: both look the key up and find no job, the other one
    records its job first; this one's insert meets the unique key: a 409 naming the header."""
    content = generated_csv(engine, 2)
    with Session(engine) as session:
        client_id = session.scalar(
            select(ApiClient.id).where(ApiClient.operator_id == committed.operator_id)
        )
        jobs.new_job(
            session,
            operator_id=committed.operator_id,
            client_id=client_id,
            idempotency_key="race-1",
            body=content,
            media_type="csv",
            options=importer.ImportOptions(),
            state="queued",
        )
        session.commit()
    monkeypatch.setattr(jobs, "by_key", lambda *args: None)  # looked up before the other's insert

    headers = {**committed.headers, "Content-Type": "text/csv", "Idempotency-Key": "race-1"}
    with TestClient(app) as client:
        response = client.post("/v1/cabins/import", content=content, headers={**headers, **prefer})

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "Idempotency-Key", "reason": "in use by a concurrent upload"}
    ]
    assert jobs_under_key(engine, committed.operator_id, "race-1") == 1
    assert cabin_count(engine, committed.operator_id) == 0


def test_a_job_that_cannot_be_recorded_because_the_database_is_down_is_503_not_409(
    app: FastAPI, engine: Engine, committed: Committed
) -> None:
    """Only the unique key of (client, Idempotency-Key) is a key conflict: a commit lost with
    the database is the service's 503 (retry shortly), never "this key is in use"."""
    opened = app.state.sessionmaker

    def connection_lost() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    def factory() -> Session:
        session: Session = opened()
        session.commit = connection_lost  # type: ignore[method-assign]
        return session

    headers = {
        **committed.headers,
        "Content-Type": "text/csv",
        "Idempotency-Key": "down-1",
        "Prefer": "respond-async",
    }
    # Not monkeypatch: its undo deletes an attribute of starlette's State instead of
    # restoring it (State keeps its attributes in a dict of its own).
    app.state.sessionmaker = factory
    try:
        with TestClient(app) as client:
            response = client.post(
                "/v1/cabins/import", content=generated_csv(engine, 2), headers=headers
            )
    finally:
        app.state.sessionmaker = opened

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert jobs_under_key(engine, committed.operator_id, "down-1") == 0


def test_registry_cabins_import_writes_a_file_and_reports_a_refusal_without_traceback(
    engine: Engine,
    committed: Committed,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from service.cli import main

    good = tmp_path / "cabins.csv"
    good.write_bytes(generated_csv(engine, 3))
    assert main(["cabins-import", str(good), "--operator", str(committed.operator_id)]) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert (summary["state"], summary["created"]) == ("succeeded", 3)
    assert cabin_count(engine, committed.operator_id) == 3

    nobody = str(uuid.uuid4())
    assert main(["cabins-import", str(good), "--operator", nobody]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "\n  " in err  # the field and the reason, on a line of their own

    missing = tmp_path / "absent.csv"
    assert main(["cabins-import", str(missing), "--operator", str(committed.operator_id)]) == 2
    assert "file: No such file or directory" in capsys.readouterr().err


def test_registry_cabins_import_reads_the_charset_given_as_the_api_reads_charset(
    engine: Engine,
    committed: Committed,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--charset` is the API's `charset=`: Excel's plain CSV (windows-1252) is read with it
    and refused without it, the refusal saying to give it; a charset the import does not
    read, or NDJSON in another than UTF-8, is refused naming --charset, nothing written."""
    from service.cli import main

    legacy = tmp_path / "excel.csv"
    legacy.write_bytes(
        generated_csv(engine, 1)
        .decode()
        .replace("Pharmacie 0", "Pharmacie Élysée")
        .encode("cp1252")
    )
    operator = ["--operator", str(committed.operator_id)]

    assert main(["cabins-import", str(legacy), *operator]) == 2
    err = capsys.readouterr().err
    assert "(Excel's plain CSV: --charset windows-1252)" in err
    assert "  body: not UTF-8 at byte" in err

    assert main(["cabins-import", str(legacy), *operator, "--charset", "klingon"]) == 2
    assert (
        "  --charset: klingon is not a character set the import reads"
        " (UTF-8, windows-1252, ISO-8859-1, ISO-8859-15, UTF-16 or US-ASCII)"
    ) in capsys.readouterr().err

    lines = tmp_path / "cabins.ndjson"
    lines.write_text("{}\n")
    assert main(["cabins-import", str(lines), *operator, "--charset", "latin1"]) == 2
    assert (
        "  --charset: latin1: NDJSON is always UTF-8; give --charset utf-8 or none"
        in capsys.readouterr().err
    )
    assert cabin_count(engine, committed.operator_id) == 0

    assert main(["cabins-import", str(legacy), *operator, "--charset", "windows-1252"]) == 0
    assert orjson.loads(capsys.readouterr().out)["created"] == 1
    with Session(engine) as session:
        names = session.scalars(
            select(Cabin.venue_name).where(Cabin.operator_id == committed.operator_id)
        ).all()
    assert names == ["Pharmacie Élysée"]
