"""Benchmark the regulator views against a served app (uvicorn, one worker) over the database
built by generate.py:

- `GET /v1/compliance/summary?by=commune` (and the other groupings): latency, warm, N runs;
- a full `GET /v1/compliance/export.csv` read as a stream: the server process's peak RSS
  (VmHWM in /proc/<pid>/status) before and after, rows and bytes received, time.

    .venv/bin/python bench/compliance/run.py --url "$BENCH_URL" --port 8107
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def national_key(url: str) -> str:
    os.environ["DATABASE_URL"] = url
    from sqlalchemy.orm import Session

    from service.audit.trail import CLI_ACTOR
    from service.auth.service import create_client
    from service.db import make_engine
    from service.settings import Settings

    engine = make_engine(Settings(database_url=url))
    with Session(bind=engine) as session:
        key = create_client(
            session, CLI_ACTOR, role="regulator", name="bench national", scope="national"
        ).key
        session.commit()
    engine.dispose()
    return key


def timed(client: httpx.Client, path: str, runs: int) -> dict[str, float]:
    warm = client.get(path)
    if warm.status_code != 200:
        return {"status": warm.status_code}
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            return {"status": r.status_code}
    samples.sort()
    return {
        "runs": runs,
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 1),
        "max_ms": round(samples[-1], 1),
        "groups": len(r.json().get("groups", [])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--port", type=int, default=8107)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--accept-encoding",
        default="gzip",
        help="what the client asks for (httpx's default asks gzip; 'identity' for plain)",
    )
    args = parser.parse_args()
    if not args.url:
        parser.error("--url or DATABASE_URL is required")
    key = national_key(args.url)
    env = {**os.environ, "DATABASE_URL": args.url, "LOG_LEVEL": "warning"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/registry"), "serve", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    results: dict[str, object] = {"load_average_at_start": os.getloadavg()}
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": args.accept_encoding}
        results["accept_encoding"] = args.accept_encoding
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for by in ("commune", "departement", "region", "operator", "rule"):
                results[f"summary?by={by}"] = timed(
                    client, f"/v1/compliance/summary?by={by}", args.runs
                )
            results["cabins?outcome=fail&limit=100"] = timed(
                client, "/v1/compliance/cabins?outcome=fail&limit=100", args.runs
            )
            results["coverage?by=departement&radius_km=10"] = timed(
                client, "/v1/compliance/coverage?by=departement&radius_km=10", 3
            )
            # the export's code paths loaded before the baseline: a one-département export
            client.get("/v1/compliance/export.csv?departement=48").raise_for_status()
            before_hwm = status_kib(server.pid, "VmHWM")
            before_rss = status_kib(server.pid, "VmRSS")
            t = time.perf_counter()
            size = rows = 0
            with client.stream("GET", "/v1/compliance/export.csv") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    rows += chunk.count(b"\n")
            seconds = time.perf_counter() - t
            after_hwm = status_kib(server.pid, "VmHWM")
            results["export.csv (full)"] = {
                "rows": rows - 1,
                "megabytes": round(size / 1e6, 1),
                "seconds": round(seconds, 1),
                "server_vmhwm_before_mib": round(before_hwm / 1024, 1),
                "server_vmhwm_after_mib": round(after_hwm / 1024, 1),
                "server_peak_rss_growth_mib": round((after_hwm - before_hwm) / 1024, 1),
                "server_vmrss_before_mib": round(before_rss / 1024, 1),
            }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
