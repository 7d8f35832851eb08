#!/usr/bin/env python3
"""What one batch insert costs PostgreSQL: a fixed part per statement and a part per product,
and which of the statement's tables each comes from.

  cargo build --release && python3 scripts/statement_cost.py [--seconds 5] [--rounds 3]

Takes the registration statement (`INSERT_PG` in src/store/write.rs) as it is, binds literal
arrays of 1 and of 13 products, and times it with pgbench (one client, prepared, commits
without waiting for the disk so the flush does not hide the CPU) after cutting it down to the
first tables: tb_product alone, the contract's three tables, then the outbox, then all of it.
Each cut runs in a database migrated by `dataflow migrate`, and again with its foreign keys
dropped and with its CHECK constraints dropped. Fixed = the 1-product figure less a bare
`SELECT 1`; per product = (13 products - 1 product) / 12. Medians of the rounds.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PG = "postgres://postgres@127.0.0.1:5432"
BIN = os.path.join(HERE, "..", "target", "release", "dataflow")


def statement():
    src = open(os.path.join(HERE, "..", "src", "store", "write.rs")).read()
    return re.search(r'const INSERT_PG: &str = r#"(.*?)"#;', src, re.S).group(1)


def bound(sql, n):
    """The statement with its parameters replaced by literals for n products."""
    def arr(v, t):
        return "ARRAY[%s]::%s" % (",".join([v] * n), t)
    rest = ("',\"description\":\"d\",\"category\":\"c\",\"pricing\":{\"ammount\":1.5,"
            "\"currency\":\"BRL\"},\"availability\":{\"quantity\":3}}'")
    p = {1: arr("'nome'", "text[]"), 2: arr("'d'", "text[]"), 3: arr("'c'", "text[]"),
         4: arr("'1.50'", "text[]"), 5: arr("'BRL'", "text[]"), 6: arr("3", "int[]"),
         7: arr(rest, "text[]"), 8: "now()", 9: "'products'", 10: "NULL::text",
         11: "30::float8", 12: arr("'vert'", "text[]"), 13: arr("NULL", "text[]"),
         14: "(random() * 1e15)::bigint", 15: arr("NULL", "text[]"), 16: arr("NULL", "text[]"),
         17: arr("NULL", "text[]"), 18: arr("NULL", "bigint[]")}
    for k in sorted(p, reverse=True):
        sql = sql.replace(f"${k}", f"({p[k]})")
    return " ".join(sql.split())


def cuts(sql):
    """The statement cut after each group of tables (CTEs left out, `SELECT 1` at the end)."""
    at = {name: sql.index(f", {name} AS (") for name in ("ik", "pr", "ob", "res")}
    return [
        ("tb_product", sql[:at["ik"]] + " SELECT 1"),
        ("+ pricing, availability", sql[:at["ik"]] + sql[at["pr"]:at["ob"]] + " SELECT 1"),
        ("+ keys, outbox", sql[:at["res"]] + " SELECT 1"),
        ("the whole statement", sql),
    ]


def pgbench(db, sql, seconds, tmp):
    path = os.path.join(tmp, "s.sql")
    with open(path, "w") as f:
        f.write(sql + ";\n")
    out = subprocess.run(
        ["pgbench", "-n", "-M", "prepared", "-c1", f"-T{seconds}", "-f", path, f"{PG}/{db}"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PGOPTIONS": "-c synchronous_commit=off"}).stdout
    return float(re.search(r"latency average = ([\d.]+) ms", out).group(1))


def psql(db, sql):
    return subprocess.run(["psql", "-qAtX", f"{PG}/{db}", "-c", sql], capture_output=True,
                          text=True, check=True).stdout


def database(name, drop_kind, tmp):
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {name}")
    subprocess.run([BIN, "migrate"], check=True, capture_output=True,
                   env={**os.environ, "DATABASE_URL": f"{PG}/{name}",
                        "DATAFLOW_DATA_DIR": os.path.join(tmp, name)})
    if drop_kind:
        for stmt in psql(name, "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass,"
                         f" conname) FROM pg_constraint WHERE contype = '{drop_kind}'"
                         " AND conrelid <> 0").split("\n"):
            if stmt:
                psql(name, stmt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sql = statement()
    variants = [("as migrated", "statement_cost", None),
                ("no foreign keys", "statement_cost_nofk", "f"),
                ("no CHECKs", "statement_cost_nocheck", "c")]
    with tempfile.TemporaryDirectory() as tmp:
        for _, db, kind in variants:
            database(db, kind, tmp)
        base = statistics.median(pgbench("statement_cost", "SELECT 1", a.seconds, tmp)
                                 for _ in range(a.rounds))
        print(f"SELECT 1: {base * 1000:.0f} µs (the round trip); µs, medians of {a.rounds} "
              f"rounds of {a.seconds} s:")
        print(f"{'statement':26} " + " ".join(f"{v[0]:>28}" for v in variants))
        print(f"{'':26} " + " ".join(f"{'fixed':>13} {'per product':>14}" for _ in variants))
        for name, cut in cuts(sql):
            row = []
            for _, db, _ in variants:
                one, many = [], []
                for _ in range(a.rounds):
                    one.append(pgbench(db, bound(cut, 1), a.seconds, tmp))
                    many.append(pgbench(db, bound(cut, 13), a.seconds, tmp))
                o, m = statistics.median(one), statistics.median(many)
                row.append(f"{(o - base) * 1000:13.0f} {(m - o) / 12 * 1000:14.1f}")
            print(f"{name:26} " + " ".join(row))
        for _, db, _ in variants:
            psql("postgres", f"DROP DATABASE {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
