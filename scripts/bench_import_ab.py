#!/usr/bin/env python3
"""Two or more `dataflow` binaries importing the same file, alternating, between two floor
windows: where each import's CPU went and which statements PostgreSQL was busy with.

  cargo build --release && cp target/release/dataflow /tmp/new
  python3 scripts/bench_import_ab.py ROWS /tmp/old /tmp/new /tmp/old /tmp/new
  python3 scripts/bench_import_ab.py ROWS /tmp/new /tmp/new@try.sql /tmp/new /tmp/new@try.sql

Each import: a fresh PostgreSQL database migrated by that binary, Tansu (memory storage),
`dataflow import`, then the outbox must hold nothing pending. Printed per import: wall time,
peak RSS, core-seconds per process name over the run (PostgreSQL's backends summed, from
/proc every 0.2 s), the statements `pg_stat_activity` showed active, sampled every 0.5 s
(a sample catches a short statement waiting for a core as often as a long one working),
each statement's time, WAL and blocks per product when the server loads
pg_stat_statements, and the cluster's WAL and checkpoint counters.
The floor is bench_import_floor.py's (COPY and the contract's three tables, one transaction).
Needs: psql, tansu.
"""
import collections
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_import_floor as floor  # noqa: E402
from bench_import import generate_rows  # noqa: E402
from bench_write import start_tansu, stats_reset, statements  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
# Cluster-wide counters (nothing else runs during a window): WAL volume, full-page images,
# checkpoints and the dirty buffers backends had to write themselves.
COUNTERS = ("SELECT w.wal_records, w.wal_fpi, w.wal_bytes, b.checkpoints_timed + b.checkpoints_req, "
            "b.buffers_backend FROM pg_stat_wal w, pg_stat_bgwriter b")
COUNTER_NAMES = ("WAL records", "full-page images", "WAL MB", "checkpoints", "backend writes")
ACTIVE = ("SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70) FROM pg_stat_activity "
          "WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()")


def cpu_by_name():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            s = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(pid)] = ("postgres" if name.startswith("postgres") else name,
                         (int(f[11]) + int(f[12])) / HZ)
    return out


def counters():
    out = floor.psql("postgres", COUNTERS)
    return [float(x) for x in out.split("|")]


def counted(before, after):
    return ", ".join(f"{n} {(a - b) / (1e6 if n == 'WAL MB' else 1):.0f}"
                     for n, a, b in zip(COUNTER_NAMES, after, before))


def watch(db, stop, cpu_last, active):
    while not stop:
        cpu_last.update(cpu_by_name())
        try:
            out = subprocess.run(["psql", "-qAtX", floor.PG + db, "-c", ACTIVE],
                                 capture_output=True, text=True, timeout=5).stdout
            active.update(out.splitlines())
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.2)


def one(label, path, tmp, kafka):
    # BINARY@FILE.sql: the same binary with FILE run after its migrations (an experiment
    # tried by hand before it becomes a migration).
    binary, _, extra = label.partition("@")
    db = "bench_import_ab"
    floor.BIN = binary
    floor.fresh(db, tmp)
    if extra:
        floor.psql(db, open(extra).read())
    env = dict(os.environ, DATABASE_URL=floor.PG + db, DATAFLOW_DATA_DIR=os.path.join(tmp, db),
               KAFKA_HOST=kafka, TOPIC_PRODUCTS=f"ab-{time.monotonic_ns()}")
    stats_reset(db)
    floor.settle()
    base = cpu_by_name()
    before = counters()
    last, active, stop = dict(base), collections.Counter(), []
    t = threading.Thread(target=watch, args=(db, stop, last, active))
    t.start()
    wall, rss, _, err = floor.run([binary, "import", path], env)
    stop.append(1)
    t.join()
    after = counters()
    used = collections.Counter()
    for pid, (name, secs) in last.items():
        b = base.get(pid)
        used[name] += secs - (b[1] if b and b[0] == name else 0)
    pending = floor.psql(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    print(f"{label}: {wall:.1f} s, peak RSS {rss:.0f} MiB, pending at exit {pending} {err[:200]}")
    print("  core-seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in used.most_common(4)))
    print("  database: " + counted(before, after))
    for q, c in active.most_common(5):
        print(f"  {c:5d} x {q}")
    # With pg_stat_statements loaded: each statement's time, WAL and blocks per product.
    for line in statements(db, floor.ROWS):
        print("  " + line.replace("/reg", "/product"))
    sys.stdout.flush()
    floor.psql("postgres", f"DROP DATABASE {db} WITH (FORCE)")
    return wall


def floored(path, tmp):
    before = counters()
    f = floor.floor_pg(path, tmp)
    after = counters()
    # These include the floor database's creation (a checkpoint), migration and the CHECKPOINT
    # before it.
    print(f"floor: {f:.1f} s; database: " + counted(before, after), flush=True)
    return f


def main():
    rows, binaries = int(sys.argv[1]), sys.argv[2:]
    floor.ROWS = rows
    tmp = tempfile.mkdtemp(prefix="bench-ab-")
    path = os.path.join(tmp, "products.csv")
    generate_rows(path, rows)
    tansu, kafka = start_tansu(tmp)
    try:
        f1 = floored(path, tmp)
        walls = collections.defaultdict(list)
        for b in binaries:
            walls[b].append(one(b, path, tmp, kafka))
        f2 = floored(path, tmp)
        f = (f1 + f2) / 2
        for b, w in walls.items():
            print(f"{b}: " + ", ".join(f"{x / f:.2f}x" for x in w) + f" the floor ({f:.1f} s)")
    finally:
        tansu.terminate()


if __name__ == "__main__":
    main()
