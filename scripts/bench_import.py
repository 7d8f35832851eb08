#!/usr/bin/env python3
"""dataflow import of N generated rows on SQLite and on PostgreSQL: wall time and peak RSS
(the child's ru_maxrss from wait4).

References measured in the same run, on the same file:
  - PostgreSQL: COPY of the same CSV into a table of the same columns (psql \\copy), the
    fastest bulk load PostgreSQL has, with no validation, no ids of ours and no outbox.
  - SQLite: Python's sqlite3, one transaction, executemany of the parsed rows into a table
    of the same columns (synchronous=FULL, WAL, as ours).

Usage: scripts/bench_import.py [ROWS]   (needs target/release/dataflow)
"""
import csv
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "dataflow")
PG = "postgres://postgres@127.0.0.1:5432/"


def generate(path):
    generate_rows(path, ROWS)


def generate_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "description", "category", "amount", "currency", "quantity"])
        for i in range(rows):
            w.writerow([f"Produto {i}", f"linha, {i} com \"aspas\"", f"Cat {i % 7}",
                        f"{i % 1000}.{i % 100:02d}", "BRL", i])


def run(args, env):
    start = time.monotonic()
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, _, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    out = p.stdout.read().decode().strip()
    err = p.stderr.read().decode().strip()
    return wall, usage.ru_maxrss / 1024, out, err


def psql(db, sql):
    return subprocess.run(["psql", "-qAt", PG + db, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def main():
    tmp = tempfile.mkdtemp(prefix="bench-import-")
    path = os.path.join(tmp, "products.csv")
    generate(path)
    size = os.path.getsize(path) / 2**20
    print(f"{ROWS} rows, {size:.0f} MiB CSV")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("DATABASE") and k != "KAFKA_HOST"}

    # SQLite, embedded broker (the defaults).
    env = dict(base, DATAFLOW_DATA_DIR=os.path.join(tmp, "sqlite"))
    wall, rss, out, err = run([BIN, "import", path], env)
    print(f"dataflow import, SQLite:      {wall:6.1f} s  {ROWS / wall:8.0f} rows/s  "
          f"peak RSS {rss:5.0f} MiB  [{out}] {err[:200]}")
    con = sqlite3.connect(os.path.join(tmp, "sqlite", "dataflow.sqlite3"))
    pending = con.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
    con.close()
    print(f"  outbox rows not yet published at exit: {pending}")
    wall, rss, out, _ = run([BIN, "import", path], env)
    print(f"  again (all duplicates):    {wall:6.1f} s  peak RSS {rss:5.0f} MiB  [{out}]")

    start = time.monotonic()
    con = sqlite3.connect(os.path.join(tmp, "reference.sqlite3"))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, description TEXT, "
                "category TEXT, amount TEXT, currency TEXT, quantity INTEGER)")
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        with con:
            con.executemany("INSERT INTO p (name, description, category, amount, currency, "
                            "quantity) VALUES (?, ?, ?, ?, ?, ?)", r)
    con.close()
    ref = time.monotonic() - start
    print(f"reference sqlite3 executemany: {ref:6.1f} s  {ROWS / ref:8.0f} rows/s")

    # PostgreSQL, embedded broker, a fresh database.
    db = "bench_import"
    psql("postgres", f"DROP DATABASE IF EXISTS {db}")
    psql("postgres", f"CREATE DATABASE {db}")
    env = dict(base, DATAFLOW_DATA_DIR=os.path.join(tmp, "pg"), DATABASE_URL=PG + db)
    wall, rss, out, err = run([BIN, "import", path], env)
    print(f"dataflow import, PostgreSQL:  {wall:6.1f} s  {ROWS / wall:8.0f} rows/s  "
          f"peak RSS {rss:5.0f} MiB  [{out}] {err[:200]}")
    pending = psql(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    print(f"  outbox rows not yet published at exit: {pending}")
    psql(db, "CREATE TABLE ref (id bigserial PRIMARY KEY, name text, description text, "
             "category text, amount numeric(12,2), currency text, quantity integer)")
    start = time.monotonic()
    subprocess.run(["psql", "-qAt", PG + db, "-c",
                    f"\\copy ref (name, description, category, amount, currency, quantity) "
                    f"FROM '{path}' WITH (FORMAT csv, HEADER true)"], check=True)
    ref = time.monotonic() - start
    print(f"reference COPY:                {ref:6.1f} s  {ROWS / ref:8.0f} rows/s")
    psql("postgres", f"DROP DATABASE {db}")
    print(f"(files in {tmp})")


if __name__ == "__main__":
    main()
