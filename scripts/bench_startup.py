#!/usr/bin/env python3
"""Start-up time of `dataflow serve` on a database whose outbox holds N published events
(default 1,000,000), on SQLite and on PostgreSQL; then the same without the index that
start-up's look-up of unrouted events uses (outbox_unrouted), to show what it saves.

    cargo build --release
    python3 scripts/bench_startup.py [N]    # PostgreSQL at 127.0.0.1:5432, database bench_startup

Start-up is measured from spawning the process to its "listening" line (connect, migrate, API
user, embedded broker, relay), the median of 5 starts.
"""

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BIN = os.environ.get("DATAFLOW_BIN", "target/release/dataflow")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/bench_startup"
DEST = "embedded:produtos-persistidos"

SEED = f"""
INSERT INTO tb_product (id, name, description, category)
  SELECT g, 'Seeded product ' || g, '', 'Vestuário' FROM {{series}};
INSERT INTO outbox (product_id, msg_key, payload, created_at, destination, published_at,
                    kafka_partition, kafka_offset, event, version)
  SELECT g, CAST(g AS TEXT), '{{{{"id":' || g || '}}}}', {{now}}, '{DEST}', {{now}}, 0, g,
         'created', 1 FROM {{series}};
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_once(env):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [BIN, "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    elapsed = time.perf_counter() - t0
    p.terminate()
    p.wait(30)
    if "listening" not in line:
        sys.exit(f"serve did not start: {line} {p.stderr.read()}")
    return elapsed * 1000


def median_start(env, runs=5):
    return statistics.median(start_once(env) for _ in range(runs))


def env_for(data_dir, url=None):
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_HOST", None)
    env["DATAFLOW_DATA_DIR"] = data_dir
    if url:
        env["DATABASE_URL"] = url
    return env


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True)


def main():
    results = []
    with tempfile.TemporaryDirectory() as d:
        # SQLite
        env = env_for(d)
        subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)
        db = sqlite3.connect(os.path.join(d, "dataflow.sqlite3"))
        series = f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {N}) SELECT g FROM s)"
        now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        db.executescript(SEED.format(series=series, now=now))
        db.commit()
        db.close()
        results.append(("SQLite", median_start(env)))
        db = sqlite3.connect(os.path.join(d, "dataflow.sqlite3"))
        db.execute("DROP INDEX outbox_unrouted")
        db.commit()
        db.close()
        results.append(("SQLite without outbox_unrouted", median_start(env)))

    with tempfile.TemporaryDirectory() as d:
        psql(PG_ADMIN, "DROP DATABASE IF EXISTS bench_startup")
        psql(PG_ADMIN, "CREATE DATABASE bench_startup")
        env = env_for(d, PG_URL)
        subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)
        seed = SEED.format(series=f"generate_series(1, {N}) g", now="now()")
        seed += "SELECT setval('tb_product_id_seq', (SELECT max(id) FROM tb_product)); ANALYZE;"
        psql(PG_URL, seed)
        results.append(("PostgreSQL", median_start(env)))
        psql(PG_URL, "DROP INDEX outbox_unrouted")
        results.append(("PostgreSQL without outbox_unrouted", median_start(env)))
        psql(PG_ADMIN, "DROP DATABASE bench_startup")

    print(f"start-up of dataflow serve, {N:,} published events in the outbox (median of 5)")
    for name, ms in results:
        print(f"  {name:<36} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
