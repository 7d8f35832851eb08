#!/usr/bin/env python3
"""What an event's outbox costs PostgreSQL: the registration statement (`INSERT_PG` of
src/store/write.rs, N products) followed by the mark of those N events, as pgbench
transactions (one client, prepared, synchronous_commit off so the disk does not hide the
work), on three schemas, alternating (A B C, C B A, ...):

  A  the outbox as migrations 0001-0014 left it (seven indexes, the mark non-HOT)
  B  A less the three indexes migration 0015 drops (outbox_claimed, outbox_product_pending,
     outbox_published): what main runs
  C  publish state in a narrow `outbox_pending` table: the mark deletes that row and sets the
     outbox row's place, a HOT update (fillfactor 80); experiments/outbox_pending_table.patch

Per variant: events/s, µs per event, WAL bytes per event and the WAL records by kind
(pg_walinspect), the outbox's updates and how many were HOT.

  cargo build --release && python3 scripts/outbox_cost.py     (N=13 SECS=6 ROUNDS=2)
"""
import glob
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from statement_cost import PG, bound, psql, statement  # noqa: E402

N = int(os.environ.get("N", "13"))
SECS = int(os.environ.get("SECS", "6"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
HERE = os.path.dirname(os.path.abspath(__file__))
MIG = sorted(glob.glob(os.path.join(HERE, "..", "migrations", "postgres", "*.sql")))

INSERT = bound(statement(), N).replace(
    "SELECT ord, id, pricing, avail, outbox FROM res ORDER BY ord",
    "SELECT min(outbox) AS lo, max(outbox) AS hi FROM res")
MARK = ("WITH l AS (SELECT id FROM outbox WHERE id BETWEEN :lo AND :hi AND published_at IS NULL "
        "ORDER BY id FOR UPDATE) UPDATE outbox o SET published_at = now(), kafka_partition = 0, "
        "kafka_offset = o.id, claimed_by = NULL, claimed_until = NULL, last_error = NULL "
        "FROM l WHERE o.id = l.id")
INSERT_C = re.sub(
    r"INSERT INTO outbox \(product_id, msg_key, payload, created_at, destination, claimed_by, "
    r"claimed_until, traceparent\) SELECT id, CAST\(id AS TEXT\), '\{\"id\":' \|\| id \|\| rest, "
    r"\(now\(\)\), \('products'\), \(NULL::text\), CASE WHEN .*? END, trace FROM input "
    r"RETURNING id, product_id \)",
    "INSERT INTO outbox (product_id, msg_key, payload, created_at, destination, traceparent) "
    "SELECT id, CAST(id AS TEXT), '{\"id\":' || id || rest, (now()), ('products'), trace "
    "FROM input RETURNING id, product_id ), obp AS (INSERT INTO outbox_pending (id, product_id, "
    "destination, claimed_by, claimed_until) SELECT id, product_id, 'products', NULL, NULL FROM ob)",
    INSERT)
MARK_C = ("WITH d AS (DELETE FROM outbox_pending WHERE id IN (SELECT id FROM outbox_pending "
          "WHERE id BETWEEN :lo AND :hi ORDER BY id FOR UPDATE) RETURNING id) UPDATE outbox o "
          "SET published_at = now(), kafka_partition = 0, kafka_offset = o.id FROM d "
          "WHERE o.id = d.id")
DROPS = ["DROP INDEX outbox_claimed", "DROP INDEX outbox_published",
         "DROP INDEX outbox_product_pending"]
SETUP = {
    "A": [],
    "B": DROPS,
    "C": DROPS + [
        "DROP INDEX outbox_pending",
        "ALTER TABLE outbox DROP COLUMN claimed_by, DROP COLUMN claimed_until, "
        "DROP COLUMN attempts, DROP COLUMN last_error",
        "ALTER TABLE outbox SET (fillfactor = 80)",
        "CREATE TABLE outbox_pending (id BIGINT PRIMARY KEY REFERENCES outbox (id) ON DELETE "
        "CASCADE, product_id BIGINT NOT NULL, destination TEXT, claimed_by TEXT, claimed_until "
        "TIMESTAMPTZ, attempts INT NOT NULL DEFAULT 0, last_error TEXT)",
        "CREATE INDEX ON outbox_pending (destination, id)",
        "CREATE INDEX ON outbox_pending (product_id, id)"],
}


def database(v):
    db = "outbox_cost_" + v.lower()
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    for f in MIG:
        if int(os.path.basename(f)[:4]) <= 14:
            subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", f"{PG}/{db}", "-f", f],
                           check=True, capture_output=True)
    for s in SETUP[v] + ["CREATE EXTENSION IF NOT EXISTS pg_walinspect"]:
        psql(db, s)
    return db


def run(v, tmp):
    db = "outbox_cost_" + v.lower()
    path = os.path.join(tmp, f"{v}.sql")
    ins, mark = (INSERT_C, MARK_C) if v == "C" else (INSERT, MARK)
    assert v != "C" or "obp AS" in ins, "the registration statement changed: update INSERT_C"
    with open(path, "w") as f:
        f.write(ins + " \\gset\n" + mark + ";\n")
    psql("postgres", "CHECKPOINT")
    w0 = psql(db, "SELECT pg_current_wal_lsn()").strip()
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c1", f"-T{SECS}", "-f", path,
                          f"{PG}/{db}"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PGOPTIONS": "-c synchronous_commit=off"}).stdout
    time.sleep(0.5)  # the WAL flushed past the run's end
    tx = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    events = tx * N
    wal = float(psql(db, f"SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '{w0}')"))
    kinds = psql(db, "SELECT \"resource_manager/record_type\", count FROM pg_get_wal_stats("
                     f"'{w0}', pg_current_wal_flush_lsn(), true) WHERE count > 0 "
                     "ORDER BY count DESC LIMIT 6")
    per = ", ".join(f"{k} {int(c) / events:.1f}" for k, c in
                    (line.split("|") for line in kinds.splitlines()))
    hot = psql(db, "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                   "WHERE relname = 'outbox'")
    return events / SECS, lat * 1000 / N, wal / events, per, hot


def main():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for v in "ABC":
            database(v)
        res = {v: [] for v in "ABC"}
        for r in range(ROUNDS):
            for v in ("ABC" if r % 2 == 0 else "CBA"):
                rate, us, wal, per, hot = run(v, tmp)
                res[v].append((rate, us, wal))
                print(f"{v}: {rate:7.0f} events/s, {us:6.1f} µs/event, {wal:6.0f} WAL B/event; "
                      f"WAL records per event: {per}; outbox updates|HOT so far {hot}", flush=True)
        for v in "ABC":
            print(f"{v} medians: {statistics.median(x[0] for x in res[v]):.0f} events/s, "
                  f"{statistics.median(x[1] for x in res[v]):.1f} µs/event, "
                  f"{statistics.median(x[2] for x in res[v]):.0f} WAL B/event")
        for v in "ABC":
            psql("postgres", f"DROP DATABASE outbox_cost_{v.lower()} WITH (FORCE)")


if __name__ == "__main__":
    main()
