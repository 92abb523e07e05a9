"""Bench: latency of `locate` for random points inside random communes (deterministic seed),
through the running service over HTTP (`--url`) or through the query alone (default).

    .venv/bin/python bench/territories/locate.py [--points 2000] [--url http://127.0.0.1:8101]
    .venv/bin/python bench/territories/locate.py --explain   # server-side execution only
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.db import make_engine
from service.settings import Settings
from service.territories import queries

ROOT = Path(__file__).resolve().parents[2]

POINTS = """
SELECT ST_X(p) AS lon, ST_Y(p) AS lat, c.insee FROM (
  SELECT insee, geom FROM commune
  WHERE layer_id IN (SELECT id FROM layer WHERE kind = 'commune' AND is_current)
    AND geom IS NOT NULL
  ORDER BY md5(insee || :seed) LIMIT :n
) c CROSS JOIN LATERAL ST_GeometryN(ST_GeneratePoints(c.geom, 1, :seed), 1) AS p
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", help="base URL of a running service; default: the query only")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="report the server-side execution time (EXPLAIN ANALYZE) instead of wall time",
    )
    args = parser.parse_args()

    database_url = (
        os.environ.get("DATABASE_URL")
        or subprocess.check_output(
            [str(ROOT / ".venv" / "bin" / "registry"), "localdb", "url"], text=True
        ).strip()
    )
    engine = make_engine(Settings(database_url=database_url))
    with Session(engine) as session:
        points = session.execute(text(POINTS), {"n": args.points, "seed": args.seed}).all()

    timings: list[float] = []
    mismatched = 0
    if args.url:
        import httpx

        with httpx.Client(base_url=args.url) as client:
            client.get("/v1/territories/locate", params={"lat": 48.85, "lon": 2.35})  # warm
            for lon, lat, insee in points:
                started = time.perf_counter()
                response = client.get("/v1/territories/locate", params={"lat": lat, "lon": lon})
                timings.append((time.perf_counter() - started) * 1000)
                found = response.json()["commune"]["insee"] if response.status_code == 200 else None
                mismatched += found != insee
    elif args.explain:
        statement = text("EXPLAIN (ANALYZE, FORMAT JSON) " + queries._LOCATE)
        with Session(engine) as session:
            for lon, lat, _insee in points:
                plan = session.execute(statement, {"lon": lon, "lat": lat}).scalar_one()
                timings.append(plan[0]["Execution Time"])
    else:
        with Session(engine) as session:
            queries.locate(session, 2.35, 48.85)  # warm
            for lon, lat, insee in points:
                started = time.perf_counter()
                row = queries.locate(session, lon, lat)
                timings.append((time.perf_counter() - started) * 1000)
                mismatched += (row["insee"] if row else None) != insee
    engine.dispose()
    where = (
        f"HTTP {args.url}"
        if args.url
        else "EXPLAIN ANALYZE (server execution time)"
        if args.explain
        else "query (queries.locate, one session)"
    )
    print(
        f"locate via {where}: {len(timings)} points, p50 {statistics.median(timings):.2f} ms,"
        f" p95 {percentile(timings, 0.95):.2f} ms, p99 {percentile(timings, 0.99):.2f} ms,"
        f" max {max(timings):.2f} ms"
        + (
            ""
            if args.explain
            else f"; {mismatched} answered another commune (overlapping simplified borders)"
        )
    )


if __name__ == "__main__":
    main()
