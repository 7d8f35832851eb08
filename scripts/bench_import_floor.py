#!/usr/bin/env python3
"""`dataflow import` of N generated rows against the contract's floor, in one run.

The floor is the least any import must write under the contract: the same rows COPYed into a
staging table, ids drawn in advance, then tb_product, tb_pricing and tb_availability filled
with their checks and foreign keys, in one transaction, in a database migrated by dataflow.
No validation, duplicate keys, outbox or publishing. Windows: floor, dataflow with Tansu,
dataflow with the embedded broker, floor; each after sync + CHECKPOINT. Every import must
leave no event pending at exit; with Tansu every product is read back from the topic once.
SQLite: its own floor, Python's sqlite3 executemany into the three tables (one transaction,
WAL, synchronous=FULL), against `dataflow import` on the defaults.

  cargo build --release && python3 scripts/bench_import_floor.py [ROWS]
Needs: psql, tansu (memory storage is used).
"""
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_import import generate_rows  # noqa: E402
from bench_write import start_tansu  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BIN = os.environ.get("DATAFLOW_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "dataflow")
PG = "postgres://postgres@127.0.0.1:5432/"


def run(args, env):
    """Wall time and peak RSS of one command. /usr/bin/time measures it: the child of this
    Python process would report this process's RSS at fork as its own (Linux keeps the
    pre-exec high-water mark), and the topic check holds a million keys here."""
    out = tempfile.NamedTemporaryFile(delete=False).name
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out, *args], env=env,
                       capture_output=True, text=True)
    wall = time.monotonic() - start
    rss = int(open(out).read().split()[-1]) / 1024
    os.unlink(out)
    return wall, rss, p.stdout.strip(), p.stderr.strip()


def psql(db, sql):
    return subprocess.run(["psql", "-qAtX", PG + db, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def settle():
    psql("postgres", "CHECKPOINT")
    os.sync()


def fresh(db, tmp):
    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    env = dict(os.environ, DATABASE_URL=PG + db, DATAFLOW_DATA_DIR=os.path.join(tmp, db))
    env.pop("KAFKA_HOST", None)
    subprocess.run([BIN, "migrate"], env=env, check=True, capture_output=True)


def floor_pg(path, tmp):
    db = "bench_floor"
    fresh(db, tmp)
    script = f"""
BEGIN;
CREATE TEMP TABLE stage (name text, description text, category text, amount text,
    currency text, quantity int) ON COMMIT DROP;
\\copy stage FROM '{path}' WITH (FORMAT csv, HEADER true)
CREATE TEMP TABLE ids ON COMMIT DROP AS
    SELECT nextval('tb_product_id_seq') AS id, s.* FROM stage s;
INSERT INTO tb_product (id, name, description, category, created_by)
    SELECT id, name, description, category, 'vert' FROM ids;
INSERT INTO tb_pricing (product_id, ammount, currency)
    SELECT id, CAST(amount AS NUMERIC), currency FROM ids;
INSERT INTO tb_availability (product_id, quantity, "timestamp") SELECT id, quantity, now() FROM ids;
COMMIT;
"""
    settle()
    start = time.monotonic()
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", PG + db], input=script, text=True,
                   check=True, capture_output=True)
    took = time.monotonic() - start
    n = int(psql(db, "SELECT count(*) FROM tb_availability"))
    assert n == ROWS, f"floor wrote {n} rows"
    psql("postgres", f"DROP DATABASE {db} WITH (FORCE)")
    return took


def import_pg(path, tmp, kafka):
    db = "bench_import_floor_pg"
    fresh(db, tmp)
    env = dict(os.environ, DATABASE_URL=PG + db, DATAFLOW_DATA_DIR=os.path.join(tmp, db))
    env.pop("KAFKA_HOST", None)
    if kafka:
        env.update(KAFKA_HOST=kafka, TOPIC_PRODUCTS=f"import-{time.monotonic_ns()}")
    settle()
    wall, rss, out, err = run([BIN, "import", path], env)
    pending = int(psql(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    products = int(psql(db, "SELECT count(*) FROM tb_product"))
    line = (f"{wall:6.1f} s, peak RSS {rss:.0f} MiB, {products} products, "
            f"pending at exit {pending} [{out}] {err[:200]}")
    if kafka:
        tail = subprocess.Popen([BIN, "tail", "--from-beginning", "--limit", str(products)],
                                env=env, stdout=subprocess.PIPE, text=True)
        keys, messages = set(), 0
        for x in tail.stdout:
            if x.strip():
                keys.add(json.loads(x)["key"])
                messages += 1
        tail.wait(600)
        line += f"; topic: {messages} messages, {len(keys)} distinct keys"
    psql("postgres", f"DROP DATABASE {db} WITH (FORCE)")
    return wall, line


def sqlite_pair(path, tmp):
    start = time.monotonic()
    con = sqlite3.connect(os.path.join(tmp, "floor.sqlite3"))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    con.executescript("""
CREATE TABLE tb_product (id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT, category TEXT);
CREATE TABLE tb_pricing (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL UNIQUE
    REFERENCES tb_product (id), ammount REAL NOT NULL, currency TEXT NOT NULL);
CREATE TABLE tb_availability (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL UNIQUE
    REFERENCES tb_product (id), quantity INTEGER NOT NULL, "timestamp" TEXT NOT NULL);""")
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        rows = [(i + 1, *row) for i, row in enumerate(r)]
    with con:
        con.executemany("INSERT INTO tb_product VALUES (?, ?, ?, ?)", [x[:4] for x in rows])
        con.executemany("INSERT INTO tb_pricing (product_id, ammount, currency) VALUES (?, ?, ?)",
                        [(x[0], x[4], x[5]) for x in rows])
        con.executemany("INSERT INTO tb_availability (product_id, quantity, \"timestamp\") "
                        "VALUES (?, ?, '2026-12-06T00:00:00Z')", [(x[0], x[6]) for x in rows])
    con.close()
    floor = time.monotonic() - start
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE") and k != "KAFKA_HOST"}
    env["DATAFLOW_DATA_DIR"] = os.path.join(tmp, "sqlite")
    wall, rss, out, err = run([BIN, "import", path], env)
    con = sqlite3.connect(os.path.join(tmp, "sqlite", "dataflow.sqlite3"))
    pending = con.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
    con.close()
    return floor, wall, f"{wall:6.1f} s, peak RSS {rss:.0f} MiB, pending at exit {pending} [{out}]"


def main():
    tmp = tempfile.mkdtemp(prefix="bench-floor-")
    path = os.path.join(tmp, "products.csv")
    generate_rows(path, ROWS)
    tansu, kafka = start_tansu(tmp)
    try:
        f1 = floor_pg(path, tmp)
        print(f"floor (COPY + three tables, one transaction): {f1:.1f} s", flush=True)
        t, line = import_pg(path, tmp, kafka)
        print(f"dataflow import, PostgreSQL + Tansu: {line}", flush=True)
        e, line = import_pg(path, tmp, None)
        print(f"dataflow import, PostgreSQL + embedded broker: {line}", flush=True)
        f2 = floor_pg(path, tmp)
        print(f"floor again: {f2:.1f} s", flush=True)
        floor = (f1 + f2) / 2
        print(f"ratio to the floor ({floor:.1f} s): Tansu {t / floor:.2f}x, embedded {e / floor:.2f}x")
    finally:
        tansu.terminate()
    sf, sw, line = sqlite_pair(path, tmp)
    print(f"SQLite floor (executemany into the three tables): {sf:.1f} s")
    print(f"dataflow import, SQLite + embedded broker: {line} = {sw / sf:.2f}x its floor")


if __name__ == "__main__":
    main()
