#!/usr/bin/env bash
# Open endpoints against tipg, same table, same machine, same run, same load tool.
# Needs: the database registry_bench_pub loaded (README.md here), this service on $OURS and
# tipg on $TIPG (see serve.sh), Debian's wrk and hey.
set -euo pipefail
OURS=${OURS:-http://127.0.0.1:8105}
TIPG=${TIPG:-http://127.0.0.1:8195}
PGPORT=${PGPORT:-$(cat "$(dirname "$0")/../../.local/pgport")}
DB=${DB:-registry_bench_pub}
PARIS_BBOX=2.224,48.815,2.470,48.902
ROW=$(psql -h 127.0.0.1 -p "$PGPORT" -U postgres -At "$DB" -c \
  "SELECT reference || ' ' || id FROM cabin WHERE status = 'active' ORDER BY reference LIMIT 1 OFFSET 5000")
REF=${ROW% *}
ID=${ROW#* }

bench() {  # label url
  local out rps
  out=$(wrk -t2 -c50 -d20s --latency "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '%-34s %10s req/s  p50 %8s  p99 %8s  non-2xx %s\n' "$1" "$rps" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
}

pair() {  # label ours-url tipg-url: ROUNDS rounds, the order alternating to spread the drift
  for round in $(seq 1 "${ROUNDS:-1}"); do
    if (( round % 2 )); then
      bench "ours  $1" "$2"; bench "tipg  $1" "$3"
    else
      bench "tipg  $1" "$3"; bench "ours  $1" "$2"
    fi
  done
}

echo "== wrk -t2 -c50 -d20s  ($(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg))"
pair "items Paris bbox limit=100" "$OURS/ogc/collections/cabins/items?bbox=$PARIS_BBOX&limit=100" \
  "$TIPG/collections/public.cabin/items?bbox=$PARIS_BBOX&limit=100"
pair "single item" "$OURS/ogc/collections/cabins/items/$REF" \
  "$TIPG/collections/public.cabin/items/$ID"
pair "first page limit=100" "$OURS/ogc/collections/cabins/items?limit=100" \
  "$TIPG/collections/public.cabin/items?limit=100"

echo "== hey -z 30s -c 50 -q 20  nearest (1,000 req/s offered; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
hey -z 30s -c 50 -q 20 \
  "$OURS/public/cabins/nearest?lat=48.8566&lon=2.3522&limit=10&needs=wheelchair" \
  | grep -E "Requests/sec|Average|99%|95%|50%|\[[0-9]+\]"
