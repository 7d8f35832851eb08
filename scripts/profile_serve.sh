#!/usr/bin/env bash
# A CPU profile of `dataflow serve` registering under wrk (32 connections): PostgreSQL on
# 127.0.0.1, the embedded broker (or KAFKA_HOST when set). Prints wrk's figures and the
# process's CPU ticks; the profile is /tmp/prof/perf.data (BENCHMARKS.md says how to read it).
#   cargo build --release && bash scripts/profile_serve.sh
set -e
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/dataflow"
mkdir -p /tmp/prof
psql -q postgres://postgres@127.0.0.1:5432/postgres -c "DROP DATABASE IF EXISTS prof WITH (FORCE)" -c "CREATE DATABASE prof"
rm -rf /tmp/prof/data; mkdir -p /tmp/prof/data
DATAFLOW_DATA_DIR=/tmp/prof/data BIND=127.0.0.1:18777 JWT_SECRET=bench-secret-bench-secret-bench-secret RUST_LOG=warn DATABASE_URL=postgres://postgres@127.0.0.1:5432/prof $BIN serve >/tmp/prof/serve.log 2>&1 &
PID=$!
for i in $(seq 50); do curl -s 127.0.0.1:18777/healthz >/dev/null && break; sleep 0.2; done
sleep 1
TOKEN=$(curl -s -XPOST -H 'Content-Type: application/json' -d '{"username":"vert","password":"vert"}' 127.0.0.1:18777/api/vert/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["access_token"])')
export TOKEN BODY='{"name": "Blusa", "description": "Blusa com touca", "category": "Vestu\u00e1rio", "pricing": {"ammount": 59.99, "currency": "BRL"}, "availability": {"quantity": 50}}'
cat > /tmp/prof/post.lua <<'LUA'
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
LUA
wrk -t2 -c32 -d3s -s /tmp/prof/post.lua http://127.0.0.1:18777/api/vert/register/product >/dev/null
c0=$(awk '{print $14+$15}' /proc/$PID/stat)
(sleep 1; ${PERF:-perf record -F 499 -g --call-graph dwarf,16384 -o /tmp/prof/perf.data -p $PID -- sleep 8} ) &
wrk -t2 -c32 -d10s -s /tmp/prof/post.lua http://127.0.0.1:18777/api/vert/register/product | grep -E "Requests/sec|Latency|requests in"
wait %2 2>/dev/null || true
c1=$(awk '{print $14+$15}' /proc/$PID/stat)
n=$(psql -qAt postgres://postgres@127.0.0.1:5432/prof -c "select count(*) from tb_product")
echo "products $n cpu_ticks $((c1-c0))"
kill $PID; wait $PID || true
