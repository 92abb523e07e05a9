"""Bench: wall time of `registry layers load admin` from the packages already downloaded,
on a scratch database (created and migrated here), loaded `--runs` times (`--force` after the
first), plus the time of the no-op second call that finds the same packages current.

    .venv/bin/python bench/territories/load_admin.py [--database registry_bench_terr] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = str(ROOT / ".venv" / "bin" / "registry")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="registry_bench_terr")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    base = (
        os.environ.get("DATABASE_URL")
        or subprocess.check_output([REGISTRY, "localdb", "url"], text=True).strip()
    )
    url = make_url(base).set(database=args.database)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}"'))
        conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}
    subprocess.run([REGISTRY, "db", "upgrade"], env=env, check=True, capture_output=True)

    def run(*extra: str) -> float:
        started = time.perf_counter()
        subprocess.run([REGISTRY, "layers", "load", "admin", *extra], env=env, check=True)
        return time.perf_counter() - started

    walls = [run() if i == 0 else run("--force") for i in range(args.runs)]
    noop = run()
    print(
        "load admin wall: "
        + ", ".join(f"{w:.1f} s" for w in walls)
        + f"; no-op (already current): {noop:.2f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
