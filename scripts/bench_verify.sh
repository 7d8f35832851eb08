#!/usr/bin/env bash
# `dataflow verify` on a big outbox: ROWS products imported through the write path into
# PostgreSQL and published to Tansu (memory storage), then, in the same run, the reference
# (`dataflow tail --from-beginning` reading the whole topic to /dev/null, plus a psql read of
# every published row in partition and offset order) and `dataflow verify`, each under
# /usr/bin/time for wall time and peak RSS.
#   cargo build --release && bash scripts/bench_verify.sh [ROWS]
set -euo pipefail
rows=${1:-1000000}
pg=postgres://postgres@127.0.0.1:5432
db=bench_verify
bin="$(cd "$(dirname "$0")/.." && pwd)/target/release/dataflow"
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tansu broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine memory://tansu/ >/dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
python3 - "$rows" "$tmp/rows.csv" <<'PY'
import csv, sys
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["name", "description", "category", "amount", "currency", "quantity"])
    for i in range(int(sys.argv[1])):
        w.writerow([f"Produto {i}", f"linha {i}", f"Cat {i % 7}", f"{i % 1000}.{i % 100:02d}", "BRL", i])
PY
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
export DATABASE_URL="$pg/$db" KAFKA_HOST="127.0.0.1:$port" TOPIC_PRODUCTS=verify-bench DATAFLOW_DATA_DIR="$tmp/data"
echo "== import $rows rows"
/usr/bin/time -f "import: %e s, peak RSS %M KiB" "$bin" import "$tmp/rows.csv" >/dev/null
echo "== reference: the topic read whole, and the outbox rows in partition and offset order"
/usr/bin/time -f "tail --from-beginning: %e s, peak RSS %M KiB" "$bin" tail --from-beginning >/dev/null
/usr/bin/time -f "psql ordered read: %e s" psql -q "$DATABASE_URL" -o /dev/null \
  -c "SELECT id, product_id, version, kafka_partition, kafka_offset FROM outbox WHERE published_at IS NOT NULL ORDER BY kafka_partition, kafka_offset"
echo "== verify"
/usr/bin/time -f "verify: %e s, peak RSS %M KiB" "$bin" verify | tail -6
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
