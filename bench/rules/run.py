"""Bench of the rule engine on generated cabins over the real communes.

    .venv/bin/python bench/rules/run.py [--database registry_bench_eng] [--cabins 100000]
                                        [--generate] [--workers 2] [--writes 200]

The database must be migrated, with the admin layers, the synthetic health layers and the
rule set 2026.1 loaded (`registry setup-data` does it). `--generate` (re)creates the bench
cabins with bench/rules/generate.sql. Then, in one run:

1. the floor: each rule's bare SELECT over all cabins, forced to compute every column
   (`count(evidence)`), sequentially and split over `--workers` connections, without JIT as
   the evaluator runs them;
2. the first full evaluation (every verdict new: all of them and their history written),
   split over the workers;
3. a full re-evaluation where nothing changed (the case of a new layer vintage that moves
   nothing), split over the workers, and the same in one transaction on one connection;
4. publishing a rule set that changes one parameter (SIT-10's radius, 1000 → 800 m or back),
   in one transaction (what `POST /v1/rule-sets/{v}/publish` does), with its per-rule report;
5. single-cabin writes: an UPDATE of one cabin and its evaluation, committed, `--writes` times
   with the pages as found, then `--writes` times on other cabins after `pg_prewarm` of what
   a write reads; p50 / p95 / max of each;
6. single-cabin writes that the cabins around can see: `--writes` active cabins suspended
   then resumed (2 × `--writes` transactions, the data as it was after), each evaluating the
   cabin and, for SIT-10, the cabins within its radius; p50 / p95 / max, and how many cabins
   around had their verdict rewritten.

`--steps` runs some of them only (floor, full, publish, writes, neighbours), e.g.
`--steps writes`, and
`--steps cpu` gives each rule's full-pass statement's backend CPU seconds (nothing changed,
nothing committed; the server must run on this machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def psql_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def floor_seconds(engine: Any, codes: list[str], workers: int) -> tuple[float, dict[str, float]]:
    """Each rule's bare statement over all cabins, every column computed, nothing written."""
    from service.db import local_setting
    from service.rules import plan as planning
    from service.rules.catalogue.base import RuleInput
    from service.rules.evaluator import cabins_selectable, now
    from service.rules.parallel import RuleQueue

    with Session(engine) as session:
        plan = planning.build(session, planning.in_force(session))
    runs = [r for r in plan.runs if r.code in codes]
    per_rule: dict[str, float] = {}

    queue = RuleQueue(codes)  # handed out as the evaluator's parallel pass hands them out

    def run_codes(_: int) -> None:
        with Session(engine) as session, local_setting(session, "jit", "off"):
            # the same settings as the evaluator's set-based passes (db.local_setting)
            while (code := queue.take()) is not None:
                for run in (r for r in runs if r.code == code):  # one per profile of the rule
                    statement = run.definition.implementation(
                        RuleInput(
                            cabins=cabins_selectable(None, run),
                            params=run.params,
                            at=now().date(),
                        )
                    ).subquery()
                    t = time.perf_counter()
                    session.execute(
                        select(
                            func.count(),
                            func.count(statement.c.evidence),
                            func.count(statement.c.outcome),
                        )
                    ).one()
                    per_rule[code] = per_rule.get(code, 0) + time.perf_counter() - t

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run_codes, range(workers)))
    return time.perf_counter() - started, per_rule


def rule_cpu_seconds(engine: Any, codes: list[str]) -> dict[str, float]:
    """Each rule's full-pass statement on one connection, nothing committed: the backend's CPU
    seconds (user + system, from /proc/<pid>/stat, so the server must run on this machine),
    the best of two runs."""
    from service.db import local_setting
    from service.rules import plan as planning
    from service.rules.evaluator import cabins_selectable, now, rule_statement

    with Session(engine) as session:
        plan = planning.build(session, planning.in_force(session))
    ticks = os.sysconf("SC_CLK_TCK")

    def backend_cpu(pid: int) -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    seconds: dict[str, float] = {}
    for code in codes:
        for _ in range(2):
            with Session(engine) as session, local_setting(session, "jit", "off"):
                pid = int(session.scalar(text("SELECT pg_backend_pid()")))
                started = backend_cpu(pid)
                for run in (r for r in plan.runs if r.code == code):
                    cabins = cabins_selectable(None, run)
                    session.execute(rule_statement(run, cabins, now(), plan.version)).one()
                spent = backend_cpu(pid) - started
                session.rollback()
            seconds[code] = min(seconds.get(code, spent), spent)
    return seconds


STEPS = ("floor", "cpu", "full", "publish", "writes", "neighbours")
"""floor: the bare SELECTs; cpu: each rule's full-pass statement, its backend CPU; full: the
full re-evaluations (and the first one when no verdict is stored); publish: a rule set changing
SIT-10's radius; writes: single-cabin writes; neighbours: single-cabin suspensions and
resumptions, which re-evaluate SIT-10 around the cabin. `cpu` is not run by default."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="registry_bench_eng")
    parser.add_argument("--cabins", type=int, default=100_000)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument(
        "--steps",
        default=",".join(step for step in STEPS if step != "cpu"),
        help=f"comma-separated steps to run, of {', '.join(STEPS)} (default all but cpu)",
    )
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    unknown = steps - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")

    base = (
        os.environ.get("DATABASE_URL")
        or subprocess.check_output(
            [str(ROOT / ".venv/bin/registry"), "localdb", "url"], text=True
        ).strip()
    )
    url = make_url(base).set(database=args.database).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url

    from service.db import make_engine
    from service.rules import plan as planning
    from service.settings import Settings

    engine = make_engine(Settings(database_url=url, db_statement_timeout_ms=3_600_000))

    if args.generate:
        t = time.perf_counter()
        subprocess.run(
            [
                "psql",
                psql_url(url),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-v",
                f"n={args.cabins}",
                "-v",
                "seed=0.42",
                "-f",
                str(ROOT / "bench/rules/generate.sql"),
            ],
            check=True,
        )
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE verdict, verdict_change, cabin_compliance"))
        print(f"generated {args.cabins} cabins in {time.perf_counter() - t:.1f} s")

    with Session(engine) as session:
        cabins = session.scalar(text("SELECT count(*) FROM cabin"))
        rule_set = planning.in_force(session)
        assert rule_set is not None, "publish a rule set first"
        plan = planning.build(session, rule_set)
        verdicts = session.scalar(text("SELECT count(*) FROM verdict"))
    codes = sorted({r.code for r in plan.runs})
    print(
        f"cabins: {cabins}; rule set {plan.version}: {len(codes)} rules implemented"
        f" ({', '.join(plan.unimplemented) or 'none'} missing); verdicts stored: {verdicts};"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    floor_seq = floor_par = float("nan")
    if "floor" in steps:
        floor_seq, per_rule = floor_seconds(engine, codes, 1)
        floor_par, _ = floor_seconds(engine, codes, args.workers)
        print(
            f"floor (bare SELECTs): {floor_seq:.2f} s on 1 connection,"
            f" {floor_par:.2f} s on {args.workers}"
        )
        print("  per rule: " + ", ".join(f"{c} {s:.2f}" for c, s in sorted(per_rule.items())))

    if "cpu" in steps:
        cpu = rule_cpu_seconds(engine, codes)
        print(f"backend CPU of the full-pass statements: {sum(cpu.values()):.2f} s")
        print("  per rule: " + ", ".join(f"{c} {s:.2f}" for c, s in sorted(cpu.items())))
    if "full" in steps:
        full_reevaluations(engine, args.workers, verdicts, floor_seq, floor_par)
    if "publish" in steps:
        publish_changed_radius(engine)
    if "writes" in steps:
        single_cabin_writes(engine, args.writes)
    if "neighbours" in steps:
        status_flips(engine, args.writes)
    engine.dispose()


def full_reevaluations(
    engine: Any, workers: int, verdicts: int, floor_seq: float, floor_par: float
) -> None:
    from service.rules.evaluator import reevaluate_all
    from service.rules.parallel import reevaluate_all_parallel

    if verdicts == 0:
        report = reevaluate_all_parallel(engine, workers=workers)
        print(
            f"first evaluation (all verdicts new), {workers} workers:"
            f" {report.seconds:.2f} s, {sum(r.first for r in report.rules.values())} verdicts"
        )

    report = reevaluate_all_parallel(engine, workers=workers)
    ratios = (
        f" ({report.seconds / floor_par:.2f}x the parallel floor,"
        f" {report.seconds / floor_seq:.2f}x the sequential floor)"
        if floor_seq == floor_seq  # not NaN: the floor was measured in this run
        else ""
    )
    print(
        f"re-evaluation, nothing changed, {workers} workers: {report.seconds:.2f} s{ratios};"
        f" rewritten {sum(r.rewritten for r in report.rules.values())}"
        f" (load average {os.getloadavg()[0]:.2f})"
    )

    with Session(engine) as session:
        report = reevaluate_all(session)
        session.commit()
    ratio = (
        f" ({report.seconds / floor_seq:.2f}x the sequential floor)"
        if floor_seq == floor_seq
        else ""
    )
    print(
        f"re-evaluation, nothing changed, 1 transaction: {report.seconds:.2f} s{ratio};"
        f" rewritten {sum(r.rewritten for r in report.rules.values())}"
        f" (load average {os.getloadavg()[0]:.2f})"
    )


def publish_changed_radius(engine: Any) -> None:
    """Publishes a rule set whose SIT-10 radius differs from the one in force (800 m, or
    back to 1000 m when 800 m is in force), so that each run measures a real change."""
    from service.audit.trail import CLI_ACTOR
    from service.rules import plan as planning
    from service.rules import rulesets
    from service.rules.schemas import RuleChange, RuleSetCreate

    version = f"2026.{int(time.time()) % 1000}"
    with Session(engine) as session:
        plan = planning.build(session, planning.in_force(session))
        radius = next(r.params.radius_m for r in plan.runs if r.code == "SIT-10")
        new_radius = 1000 if radius == 800 else 800
        rulesets.derive(
            session,
            RuleSetCreate(
                version=version,
                title=f"bench: SIT-10 radius {new_radius} m",
                rules={"SIT-10": RuleChange(parameters={"radius_m": new_radius})},
            ),
            actor=CLI_ACTOR,
        )
        t = time.perf_counter()
        _rs, report = rulesets.publish(session, version, actor=CLI_ACTOR)
        session.commit()
        publish_s = time.perf_counter() - t
    changed = {c: r.changed for c, r in report.rules.items() if r.changed}
    rewritten = {c: r.rewritten for c, r in report.rules.items() if r.rewritten}
    print(
        f"publish {version} (SIT-10 radius {radius:g} -> {new_radius} m), 1 transaction:"
        f" {publish_s:.2f} s; changed outcomes {changed}; verdicts rewritten {rewritten}"
    )


def single_cabin_writes(engine: Any, writes: int) -> None:
    """Twice `writes` single-cabin writes on distinct random cabins: first with the pages as
    the machine left them (after a bulk load or another tenant's I/O, a cabin's 20 verdicts sit
    on ~20 heap pages that may have to come from disk), then after `pg_prewarm` of the tables
    and indexes a write reads, as on a server in use whose working set is in memory."""
    with Session(engine) as session:
        ids = list(
            session.scalars(
                text("SELECT id FROM cabin ORDER BY random() LIMIT :n"), {"n": 2 * writes}
            )
        )
    print_writes("pages as found", timed_writes(engine, ids[:writes]))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        t = time.perf_counter()
        pages = conn.scalar(
            text(
                "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c"
                " WHERE c.relname IN ('cabin', 'verdict', 'cabin_compliance', 'compliance_tally')"
                " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN"
                " ('cabin'::regclass, 'verdict'::regclass, 'cabin_compliance'::regclass,"
                " 'verdict_change'::regclass))"
            )
        )
    print(f"  pg_prewarm: {pages} pages in {time.perf_counter() - t:.1f} s")
    print_writes("after pg_prewarm", timed_writes(engine, ids[writes:]))


def timed_writes(engine: Any, ids: list[Any]) -> list[float]:
    from service.rules.evaluator import evaluate_cabins

    timings = []
    for cabin_id in ids:
        with Session(engine) as session:
            t = time.perf_counter()
            session.execute(
                text(
                    "UPDATE cabin SET version = version + 1, updated_at = now(),"
                    " siting = jsonb_set(siting, '{sound_insulated}', to_jsonb(random() < 0.5))"
                    " WHERE id = :id"
                ),
                {"id": cabin_id},
            )
            evaluate_cabins(session, [cabin_id])
            session.commit()
            timings.append((time.perf_counter() - t) * 1000)
    return sorted(timings)


def status_flips(engine: Any, writes: int) -> None:
    """`writes` random active cabins, each suspended then resumed in two transactions (as
    `POST …/transitions` writes them: the status, then the evaluation of the cabin and of the
    cabins around it for SIT-10), timed; the data is as it was after."""
    from service.rules.evaluator import evaluate

    with Session(engine) as session:
        ids = list(
            session.scalars(
                text("SELECT id FROM cabin WHERE status = 'active' ORDER BY random() LIMIT :n"),
                {"n": writes},
            )
        )
    if not ids:
        print("suspend / resume: no active cabin to write")
        return
    timings = []
    around: list[int] = []
    for cabin_id in ids:
        for status in ("suspended", "active"):
            with Session(engine) as session:
                t = time.perf_counter()
                session.execute(
                    text(
                        "UPDATE cabin SET status = :status, version = version + 1,"
                        " updated_at = now() WHERE id = :id"
                    ),
                    {"id": cabin_id, "status": status},
                )
                report = evaluate(session, [cabin_id], neighbours_of={cabin_id: None})
                session.commit()
                timings.append((time.perf_counter() - t) * 1000)
                around.append(len(report.rewritten_neighbours))
    print_writes("suspend / resume, with the cabins around", sorted(timings))
    print(
        f"  cabins around rewritten per write: median {statistics.median(around):.0f},"
        f" max {max(around)}"
    )


def print_writes(label: str, timings: list[float]) -> None:
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"single-cabin write + evaluation, {label} ({len(timings)} writes): p50"
        f" {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, max {timings[-1]:.1f} ms"
        f" (load average {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
