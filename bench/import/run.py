"""Benchmark of the bulk import: N generated rows over real communes, validated and written
(raw COPY, checks in SQL, staging, location and duplicate checks, upsert, audit events, rule
evaluation with --with-rules, commit), against a bare COPY of the same CSV into a plain table
of text columns, measured in the same run on the same database. Besides wall time it prints
the CPU of this process and of each PostgreSQL backend (/proc/<pid>/stat, local cluster),
the steadier figures on a shared machine.

    .venv/bin/python bench/import/run.py [--rows 100000] [--skip-setup]

Uses the database `registry_bench_imp` of the local cluster (created, migrated and loaded with
the reference layers and the rule set on first use), or --database-url."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from generate import COLUMNS, generate  # noqa: E402


def _url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    from service.localdb import project_cluster

    return str(project_cluster().url("registry_bench_imp"))


def prepare(url: str) -> None:
    from tests.conftest import ensure_database, migrate

    os.environ["DATABASE_URL"] = url
    ensure_database(url)
    migrate(url)
    from service.cli import setup_steps

    for title, step in setup_steps(include_demo=False):
        print(f"setup: {title}", file=sys.stderr)
        step()


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend of the local cluster has used: with
    the process CPU of this script, a figure the other processes' load barely moves."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_copy(engine, body: bytes) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    columns = ", ".join(f'"{c}" text' for c in COLUMNS)
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        with driver.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS bench_plain_copy")
            cur.execute(f"CREATE TABLE bench_plain_copy ({columns})")
        driver.commit()
        with driver.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]  # type: ignore[index]
        driver.commit()
        cpu = backend_cpu(pid)
        started = time.perf_counter()
        with (
            driver.cursor() as cur,
            cur.copy("COPY bench_plain_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            copy.write(body)
        driver.commit()
        elapsed = time.perf_counter() - started
        cpu = backend_cpu(pid) - cpu
        with driver.cursor() as cur:
            cur.execute("DROP TABLE bench_plain_copy")
        driver.commit()
    return elapsed, cpu


def run_import(engine, body: bytes, operator_id: uuid.UUID, evaluate: bool) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from service.audit.trail import Actor
    from service.cabins.importer import ImportOptions
    from service.cabins.importer import run_import as import_cabins

    with Session(engine) as session:
        pid = session.scalar(select(func.pg_backend_pid()))
        db_cpu = backend_cpu(pid)
        started = time.perf_counter()
        cpu = time.process_time()
        report = import_cabins(
            session,
            operator_id=operator_id,
            actor=Actor(name="bench"),
            body=body,
            kind="csv",
            options=ImportOptions(mode="atomic", evaluate=evaluate),
        )
        session.commit()
        report.timings["python_cpu"] = round(time.process_time() - cpu, 2)
        report.timings["postgres_cpu"] = round(backend_cpu(pid) - db_cpu, 2)
        return time.perf_counter() - started, report


def write_floor(engine, operator_id: uuid.UUID, after_event: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The rows the import wrote, written again by `INSERT … SELECT` into plain tables of the
    same columns: what writing them costs when nothing is parsed, checked, located or
    chained — a part of the import no importer can skip. Seconds for the cabins alone (no
    index, constraint nor trigger), the cabins with the cabin table's own indexes and
    constraints, and the audit events alone."""
    from sqlalchemy import text

    tables = {
        "cabins": ("bench_floor_cabin", "(LIKE cabin)", "cabin WHERE operator_id = :op"),
        "cabins_indexed": (
            "bench_floor_cabin_indexed",
            "(LIKE cabin INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
            "cabin WHERE operator_id = :op",
        ),
        "audit": ("bench_floor_audit", "(LIKE audit_event)", "audit_event WHERE id > :after"),
    }
    seconds: dict[str, float] = {}
    for name, (table, shape, source) in tables.items():
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text(f"CREATE TABLE {table} {shape}"))
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(f"INSERT INTO {table} SELECT * FROM {source}"),
                {"op": operator_id, "after": after_event},
            )
        seconds[name] = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--skip-setup", action="store_true")
    parser.add_argument(
        "--with-rules",
        action="store_true",
        help="also have the rule engine evaluate the written cabins inside the import",
    )
    args = parser.parse_args()
    url = _url(args)
    if not args.skip_setup:
        prepare(url)
    os.environ["DATABASE_URL"] = url

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from service.audit.trail import CLI_ACTOR
    from service.auth.service import create_operator
    from service.db import make_engine
    from service.settings import Settings
    from tests.auth.factories import valid_siren

    engine = make_engine(Settings(database_url=url, db_statement_timeout_ms=600_000))
    run_id = uuid.uuid4().hex[:8]
    t = time.perf_counter()
    body = generate(url, args.rows, prefix=f"B{run_id}")
    print(
        f"generated {args.rows} rows ({len(body) / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s"
    )

    with Session(engine) as session:
        operator_id = create_operator(
            session, CLI_ACTOR, name=f"Bench {run_id}", siren=valid_siren()
        ).id
        session.commit()
    with engine.connect() as conn:
        after_event = conn.scalar(text("SELECT coalesce(max(id), 0) FROM audit_event"))
    copy_s, copy_cpu = bare_copy(engine, body)
    import_s, report = run_import(engine, body, operator_id, args.with_rules)
    with engine.connect() as conn:
        written = conn.scalar(
            text("SELECT count(*) FROM cabin WHERE operator_id = :op"), {"op": operator_id}
        )
    print(f"bare COPY into a plain table : {copy_s:6.2f} s (PostgreSQL CPU {copy_cpu:.2f} s)")
    print(
        f"import (validated, written)  : {import_s:6.2f} s — state {report.state},"  # type: ignore[attr-defined]
        f" created {report.created}, errors {len(report.errors)}, rows in cabin {written}"  # type: ignore[attr-defined]
    )
    print(f"ratio import / bare COPY     : {import_s / copy_s:6.2f}")
    timings = report.timings  # type: ignore[attr-defined]
    import_cpu = timings["python_cpu"] + timings["postgres_cpu"]
    print(
        f"CPU, import / bare COPY      : {import_cpu:.2f} s / {copy_cpu:.2f} s"
        f" = {import_cpu / max(copy_cpu, 0.01):.2f}"
    )
    print(f"phases (s)                   : {report.timings}")  # type: ignore[attr-defined]
    print(f"rule evaluation included     : {args.with_rules}")
    floor = write_floor(engine, operator_id, after_event)
    print(
        "the written rows alone       : "
        + ", ".join(f"{name} {s:.2f} s ({s / copy_s:.1f}×)" for name, s in floor.items())
        + f"; cabins + audit {floor['cabins'] + floor['audit']:.2f} s"
        f" ({(floor['cabins'] + floor['audit']) / copy_s:.1f}× the bare COPY)"
    )
    print(f"load average (1, 5, 15 min)  : {os.getloadavg()}")
    with engine.begin() as conn:  # each run starts from the same registry: remove its cabins
        conn.execute(text("DELETE FROM cabin WHERE operator_id = :op"), {"op": operator_id})
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
