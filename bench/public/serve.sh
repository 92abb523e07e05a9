#!/usr/bin/env bash
# Starts this service and tipg on the benchmark database, each with $WORKERS uvicorn workers
# (default 2 = the machine's cores), logs at warning, the public rate limit off.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGPORT=${PGPORT:-$(cat "$ROOT/.local/pgport")}
DB=${DB:-registry_bench_pub}
WORKERS=${WORKERS:-2}
TIPG_VENV=${TIPG_VENV:-/tmp/pub_tipg_venv}  # python -m venv $TIPG_VENV && $TIPG_VENV/bin/pip install tipg uvicorn
cd "$ROOT"
DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/$DB PUBLIC_RATE_LIMIT_PER_MINUTE=0 \
LOG_LEVEL=warning nohup .venv/bin/uvicorn service.app:create_app --factory --host 127.0.0.1 \
  --port 8105 --workers "$WORKERS" --log-level warning --no-access-log >/tmp/bench_pub_ours.log 2>&1 &
echo "ours: pid $!"
DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB TIPG_DB_SCHEMAS='["public"]' \
TIPG_DB_TABLES='["public.cabin"]' TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS='["public"]' \
nohup "$TIPG_VENV/bin/uvicorn" tipg.main:app --host 127.0.0.1 --port 8195 --workers "$WORKERS" \
  --log-level warning --no-access-log >/tmp/bench_pub_tipg.log 2>&1 &
echo "tipg: pid $!"
