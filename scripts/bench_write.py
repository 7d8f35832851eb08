#!/usr/bin/env python3
"""Write-path benchmark: `dataflow serve` registering over HTTP under wrk, against pgbench
running the same four-row transaction, all in one run on this machine.

  cargo build --release && python3 scripts/bench_write.py [--seconds 10] [--connections 32]

Scenarios, each on fresh databases:
  1. PostgreSQL + Tansu: wrk at C connections, then pgbench at C clients -> the ratio;
     CPU seconds per 1,000 registrations for PostgreSQL, dataflow and the broker.
  2. The same at about half that load (wrk's delay()): p99 latency.
  3. Two `serve` processes on one database and broker, C/2 connections each, against one
     process under the same two wrk: windows in the order one, two, two, one, each pair
     averaged (the database grows and vacuums through the runs; the machine drifts).
  4. The embedded defaults (SQLite + in-process broker).
Each window prints the stage means and, when PostgreSQL loads pg_stat_statements, the
statements' database time per registration.
After each: every product must be on the topic exactly once (read back with `dataflow tail`).
Needs: wrk, pgbench, psql, tansu (cargo install tansu --locked --features dynostore,postgres,libsql).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("DATAFLOW_BIN") or os.path.join(ROOT, "target", "release", "dataflow")
PG = "postgres://postgres@127.0.0.1:5432"
TICK = os.sysconf("SC_CLK_TCK")
BODY = json.dumps({"name": "Blusa", "description": "Blusa com touca", "category": "Vestuário",
                   "pricing": {"ammount": 59.99, "currency": "BRL"},
                   "availability": {"quantity": 50}})
LUA = r"""
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local pause = tonumber(os.getenv("DELAY_MS") or "0")
if pause > 0 then function delay() return pause end end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %f, \"non2xx\": %d, " ..
    "\"errors\": %d, \"p50\": %f, \"p99\": %f, \"max\": %f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""
PGBENCH = r"""
\set q random(1, 100)
BEGIN;
INSERT INTO tb_product (name, description, category) VALUES ('Blusa', 'Blusa com touca', 'Vestuário') RETURNING id \gset
INSERT INTO tb_pricing (product_id, ammount, currency) VALUES (:id, 59.99, 'BRL');
INSERT INTO tb_availability (product_id, quantity, "timestamp") VALUES (:id, :q, now());
INSERT INTO outbox (product_id, msg_key, payload, created_at, destination) VALUES (:id, :id, '{"id":0,"name":"Blusa","description":"Blusa com touca","pricing":{"amount":59.99,"currency":"BRL"},"availability":{"quantity":50,"timestamp":"2026-11-25T00:00:00.000000Z"},"category":"Vestuário"}', now(), 'pgbench');
END;
"""

# The reference: the seed's four rows (product, pricing, availability, one event) in
# one statement on a minimal schema with the contract's keys, i.e. what the database costs
# doing the contract's work alone, no outbox state and no extra indexes.
CONTRACT_SCHEMA = """
CREATE TABLE tb_product (id SERIAL PRIMARY KEY, name TEXT NOT NULL, description TEXT, category TEXT);
CREATE TABLE tb_pricing (id SERIAL PRIMARY KEY, product_id INT NOT NULL UNIQUE REFERENCES tb_product (id),
    ammount FLOAT NOT NULL, currency TEXT NOT NULL);
CREATE TABLE tb_availability (id SERIAL PRIMARY KEY, product_id INT NOT NULL UNIQUE REFERENCES tb_product (id),
    quantity INT NOT NULL, "timestamp" TIMESTAMPTZ NOT NULL);
CREATE TABLE event (id BIGSERIAL PRIMARY KEY, product_id INT NOT NULL, payload TEXT NOT NULL);
"""
CONTRACT_PGBENCH = r"""
\set q random(1, 100)
WITH p AS (INSERT INTO tb_product (name, description, category) VALUES ('Blusa', 'Blusa com touca', 'Vestuário') RETURNING id), pr AS (INSERT INTO tb_pricing (product_id, ammount, currency) SELECT id, 59.99, 'BRL' FROM p), av AS (INSERT INTO tb_availability (product_id, quantity, "timestamp") SELECT id, :q, now() FROM p) INSERT INTO event (product_id, payload) SELECT id, '{"id":' || id || ',"name":"Blusa","description":"Blusa com touca","pricing":{"amount":59.99,"currency":"BRL"},"availability":{"quantity":50,"timestamp":"2026-11-25T00:00:00.000000Z"},"category":"Vestuário"}' FROM p;
"""


class SkipOne(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def psql(db, sql):
    return subprocess.run(["psql", f"{PG}/{db}", "-qAtc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def fresh_db(name):
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {name}")
    return f"{PG}/{name}"


def cpu(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / TICK


def postgres_pids():
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class PgCpu:
    """PostgreSQL's CPU seconds over a window: every postgres process alive at its start or
    its end (autovacuum workers come and go; one started inside the window counts whole). A
    process that both started and ended inside the window is missed."""

    def __init__(self):
        self.start = {p: cpu([p]) for p in postgres_pids()}

    def seconds(self):
        end = {p: cpu([p]) for p in postgres_pids()}
        return sum(v - self.start.get(p, 0.0) for p, v in end.items())


class Serve:
    def __init__(self, env, data_dir):
        self.port = free_port()
        e = dict(os.environ, DATAFLOW_DATA_DIR=data_dir, BIND=f"127.0.0.1:{self.port}",
                 JWT_SECRET="bench-secret-bench-secret-bench-secret", RUST_LOG="warn", **env)
        for k in ("DATABASE_URL", "KAFKA_HOST"):
            if k not in env:
                e.pop(k, None)
        self.env = e
        self.proc = subprocess.Popen([BIN, "serve"], env=e, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, "dataflow serve")
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = self.login()
        self.wait_broker()

    def login(self):
        req = urllib.request.Request(self.base + "/api/vert/auth/login",
                                     json.dumps({"username": "vert", "password": "vert"}).encode(),
                                     {"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(req))["result"]["access_token"]

    def health(self):
        return json.load(urllib.request.urlopen(self.base + "/healthz"))["result"]

    def wait_broker(self):
        end = time.time() + 30
        while not self.health()["broker"]["ok"]:
            if time.time() > end:
                sys.exit("the broker never came up")
            time.sleep(0.05)

    def drain(self, seconds=120):
        end = time.time() + seconds
        while self.health()["outbox_pending"] != 0:
            if time.time() > end:
                sys.exit("outbox not drained")
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def wrk(serve, lua, connections, seconds, delay_ms=0):
    env = dict(os.environ, TOKEN=serve.token, BODY=BODY, DELAY_MS=str(delay_ms))
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", lua, serve.base + "/api/vert/register/product"],
                         env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"^JSON (.*)$", out, re.M)
    r = json.loads(m.group(1))
    r["rate"] = r["requests"] / r["seconds"]
    return r


STAGES = ["parse", "queue", "commit", "handoff", "send", "ack", "mark", "published", "answer"]


def stage_snapshot(serve):
    """The serve process's stage histograms (`dataflow_write_stage_seconds` on /metrics):
    {stage: {"sum": s, "count": n, "buckets": [(le, cumulative), ...]}}."""
    text = urllib.request.urlopen(serve.base + "/metrics").read().decode()
    out = {st: {"sum": 0.0, "count": 0, "buckets": []} for st in STAGES}
    for line in text.splitlines():
        m = re.match(r"dataflow_write_stage_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)", line)
        if not m:
            continue
        kind, labels, v = m.groups()
        labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        st = labels.get("stage")
        if st not in out:
            continue
        if kind == "bucket":
            out[st]["buckets"].append((float(labels["le"]), float(v)))
        else:
            out[st][kind] = float(v)
    return out


def quantile(buckets, q):
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return float("nan")
    lo_le, lo_n = 0.0, 0.0
    for le, n in buckets:
        if n >= q * total:
            if le == float("inf"):
                return lo_le
            return lo_le + (le - lo_le) * ((q * total - lo_n) / max(n - lo_n, 1e-9))
        lo_le, lo_n = le, n
    return lo_le


def print_stages(before, after):
    """Mean, p50 and p99 per stage over the measured window (after minus before)."""
    print("  where one registration's time goes (ms; p50/p99 interpolated in buckets):")
    print(f"    {'stage':<10}{'count':>9}{'mean':>9}{'p50':>9}{'p99':>9}")
    for st in STAGES:
        a, b = after[st], before[st]
        n = a["count"] - b["count"]
        if n <= 0:
            continue
        buckets = [(le, na - nb) for (le, na), (_, nb) in zip(a["buckets"], b["buckets"])]
        mean = 1000 * (a["sum"] - b["sum"]) / n
        print(f"    {st:<10}{int(n):>9}{mean:>9.3f}{1000 * quantile(buckets, 0.5):>9.3f}"
              f"{1000 * quantile(buckets, 0.99):>9.3f}")


def topic_check(serve, products):
    """Every product on the topic exactly once, read back with `dataflow tail`. It follows the
    topic for up to 20 s after the expected count instead of stopping at the high-water marks:
    Tansu's memory engine sometimes reports a mark a few messages short for a moment."""
    try:
        out = subprocess.run([BIN, "tail", "--from-beginning", "--follow", "--limit",
                              str(products + 1)], env=serve.env, capture_output=True, text=True,
                             timeout=20 + products / 5000).stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode()
    keys = [json.loads(line)["key"] for line in out.splitlines() if line.strip()]
    ok = len(keys) == products and len(set(keys)) == products
    if not ok and "KAFKA_HOST" not in serve.env:
        # The embedded (mock) broker trims each partition's log at a few MiB: the low marks
        # move up. Then every product must be under the high marks, and what is kept read
        # once each.
        st = json.loads(subprocess.run([BIN, "status", "--json"], env=serve.env,
                                       capture_output=True, text=True).stdout)
        low = sum(p["low"] for p in st["partitions"])
        high = sum(p["high"] for p in st["partitions"])
        if high == products and len(keys) == high - low == len(set(keys)):
            return (f"{products} products under the high marks; {len(keys)} kept by the "
                    f"embedded broker (it trimmed {low}), each once: OK")
    return f"{len(keys)} messages, {len(set(keys))} distinct keys, {products} products: " + (
        "OK" if ok else "MISMATCH")


def start_tansu(tmp):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    p = subprocess.Popen([shutil.which("tansu") or os.path.expanduser("~/.cargo/bin/tansu"),
                          "broker", "--listener-url", url, "--advertised-listener-url", url,
                          "--storage-engine", "memory://tansu/"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "tansu")
    return p, f"127.0.0.1:{port}"


def stats_reset(db):
    """Clears pg_stat_statements when the server loads it (shared_preload_libraries)."""
    try:
        psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                 "SELECT pg_stat_statements_reset()")
    except subprocess.CalledProcessError:
        pass  # not loaded: statements() then prints nothing


def statements(db, registrations):
    """The statements that took the database's time since stats_reset, per registration."""
    try:
        rows = psql(db, "SELECT calls, total_exec_time, wal_bytes, "
                        "shared_blks_hit + shared_blks_read, left(regexp_replace(query, '\\s+', ' ', 'g'), 60) "
                        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 5")
    except subprocess.CalledProcessError:
        return []
    out = []
    for line in rows.splitlines():
        calls, ms, wal, blks, q = line.split("|", 4)
        n = max(registrations, 1)
        out.append(f"{int(calls):>7} calls {float(ms) / int(calls):7.3f} ms each, "
                   f"{1000 * float(ms) / n:6.1f} us/reg, {float(wal) / n:6.0f} WAL B/reg, "
                   f"{int(blks) / n:5.1f} blocks/reg: {q}")
    return out


def flush_dirty_pages():
    """Writes out the page cache before a measured window. Linux writes a dirty page back 30 s
    after it was dirtied (vm.dirty_expire_centisecs): the database files the earlier windows
    wrote landed as a burst in whichever window ran about 30 s later (the third of scenario 3,
    always a two-process one), and PostgreSQL's WAL flushes stalled for up to 250 ms in it.
    A CHECKPOINT too, so no window pays for an earlier one's dirty buffers or full-page
    images more than another."""
    psql("postgres", "CHECKPOINT")
    os.sync()


def pgbench(db_url, script, clients, seconds):
    out = subprocess.run(["pgbench", "-n", "-c", str(clients), "-j", "2", "-T", str(seconds),
                          "-f", script, db_url], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--only", default="1234", help="scenarios to run, e.g. 13")
    a = ap.parse_args()
    c, secs = a.connections, a.seconds
    tmp = tempfile.mkdtemp(prefix="bench-write-")
    lua = os.path.join(tmp, "register.lua")
    open(lua, "w").write(LUA)
    script = os.path.join(tmp, "four_rows.sql")
    open(script, "w").write(PGBENCH)

    tansu, kafka = start_tansu(tmp)
    try:
        # 1. One process at full load, then pgbench on the same transaction.
        full = {"rate": 0}
        if "1" not in a.only:
            raise SkipOne
        contract = fresh_db("dataflow_bench_contract")
        psql("dataflow_bench_contract", CONTRACT_SCHEMA)
        contract_script = os.path.join(tmp, "contract.sql")
        open(contract_script, "w").write(CONTRACT_PGBENCH)
        url = fresh_db("dataflow_bench")
        s = Serve({"DATABASE_URL": url, "KAFKA_HOST": kafka}, os.path.join(tmp, "d1"))
        wrk(s, lua, c, 2)  # warm-up: connections, topic metadata
        s.drain()
        # Windows: contract, dataflow, dataflow, contract (each after sync + CHECKPOINT).
        flush_dirty_pages()
        ref = [pgbench(contract, contract_script, c, secs)]
        before = psql("dataflow_bench", "SELECT count(*) FROM tb_product")
        flush_dirty_pages()
        pg = PgCpu()
        t0 = (0.0, cpu([s.proc.pid]), cpu([tansu.pid]))
        st0 = stage_snapshot(s)
        stats_reset("dataflow_bench")
        full = wrk(s, lua, c, secs)
        s.drain()
        st1 = stage_snapshot(s)
        t1 = (pg.seconds(), cpu([s.proc.pid]), cpu([tansu.pid]))
        n = int(psql("dataflow_bench", "SELECT count(*) FROM tb_product"))
        per_k = [1000 * (t1[i] - t0[i]) / (n - int(before)) for i in range(3)]
        top = statements("dataflow_bench", n - int(before))
        flush_dirty_pages()
        again = wrk(s, lua, c, secs)
        s.drain()
        flush_dirty_pages()
        ref.append(pgbench(contract, contract_script, c, secs))
        n = int(psql("dataflow_bench", "SELECT count(*) FROM tb_product"))
        check1 = topic_check(s, n)
        # 2. Half that load.
        half_delay = max(1, int(1000 * c / (full["rate"] / 2) - full["p50"]))
        flush_dirty_pages()
        half = wrk(s, lua, c, secs, half_delay)
        s.stop()
        pg_url = fresh_db("dataflow_bench_pgbench")
        subprocess.run([BIN, "migrate"], env=dict(os.environ, DATABASE_URL=pg_url,
                       DATAFLOW_DATA_DIR=os.path.join(tmp, "mig")), check=True,
                       capture_output=True)
        flush_dirty_pages()
        tps = pgbench(pg_url, script, c, secs)
        print(f"PostgreSQL + Tansu, {c} connections, {secs} s:")
        print(f"  serve: {full['rate']:.0f} req/s, p50 {full['p50']:.1f} ms, p99 {full['p99']:.1f} ms, "
              f"max {full['max']:.1f} ms, non-2xx {full['non2xx']}, socket errors {full['errors']}")
        print(f"  again: {again['rate']:.0f} req/s, p50 {again['p50']:.1f} ms, p99 {again['p99']:.1f} ms, "
              f"non-2xx {again['non2xx']}, socket errors {again['errors']}")
        print(f"  contract reference (four rows, one statement, minimal schema), windows 1 and 4: "
              f"{ref[0]:.0f} / {ref[1]:.0f} tps")
        both = (full['rate'] + again['rate']) / 2
        print(f"  ratio to the contract reference: {both / (sum(ref) / 2):.2f}x "
              f"({full['rate'] / ref[0]:.2f}x and {again['rate'] / ref[1]:.2f}x)")
        print(f"  pgbench, same four-row transaction on dataflow's own schema, {c} clients: {tps:.0f} tps")
        print(f"  ratio: {full['rate'] / tps:.2f}x pgbench on our schema")
        print(f"  CPU s per 1,000 registrations: PostgreSQL {per_k[0]:.3f}, dataflow {per_k[1]:.3f}, "
              f"broker {per_k[2]:.3f}")
        print(f"  topic: {check1}")
        print_stages(st0, st1)
        for line in top:
            print("    " + line)
        print(f"  half load ({half['rate']:.0f} req/s): p50 {half['p50']:.1f} ms, "
              f"p99 {half['p99']:.1f} ms, max {half['max']:.1f} ms, non-2xx {half['non2xx']}")

    except SkipOne:
        pass
    try:
        # 3. Two processes on one database and broker.
        if "3" not in a.only:
            raise SkipOne
        url = fresh_db("dataflow_bench2")
        a1 = Serve({"DATABASE_URL": url, "KAFKA_HOST": kafka, "TOPIC_PRODUCTS": "bench-two"},
                   os.path.join(tmp, "d2"))
        a2 = Serve({"DATABASE_URL": url, "KAFKA_HOST": kafka, "TOPIC_PRODUCTS": "bench-two"},
                   os.path.join(tmp, "d3"))
        wrk(a1, lua, c // 2, 2)  # warm-up, as for one process
        wrk(a2, lua, c // 2, 2)
        import threading

        def pair(x, y):
            results = {}

            def run(name, srv):
                results[name] = wrk(srv, lua, c // 2, secs)
            ts = [threading.Thread(target=run, args=(k, v)) for k, v in (("a", x), ("b", y))]
            [t.start() for t in ts]
            [t.join() for t in ts]
            return results["a"], results["b"]
        # The reference: the same two load generators, both on one process. The order is
        # one, two, two, one: the database grows and vacuums through the runs, and a later
        # window would otherwise pay for an earlier one's dead rows.
        def with_cpu(x, y):
            flush_dirty_pages()
            pg = PgCpu()
            n0 = int(psql("dataflow_bench2", "SELECT count(*) FROM tb_product"))
            stats_reset("dataflow_bench2")
            c0 = (0.0, cpu([a1.proc.pid, a2.proc.pid]), cpu([tansu.pid]))
            s0 = [stage_snapshot(a1), stage_snapshot(a2)]
            r = pair(x, y)
            a1.drain()
            a2.drain()
            s1 = [stage_snapshot(a1), stage_snapshot(a2)]
            c1 = (pg.seconds(), cpu([a1.proc.pid, a2.proc.pid]), cpu([tansu.pid]))
            n1 = int(psql("dataflow_bench2", "SELECT count(*) FROM tb_product"))
            per_k = [1000 * (c1[i] - c0[i]) / (n1 - n0) for i in range(3)]
            means = {}
            for st in ("queue", "commit", "ack", "published"):
                n = sum(s1[i][st]["count"] - s0[i][st]["count"] for i in range(2))
                t = sum(s1[i][st]["sum"] - s0[i][st]["sum"] for i in range(2))
                means[st] = 1000 * t / n if n else float("nan")
            st = ["stages, mean ms: " + ", ".join(f"{k} {v:.2f}" for k, v in means.items())]
            return r, per_k, st + statements("dataflow_bench2", n1 - n0)
        runs = [("one", with_cpu(a1, a1)), ("two", with_cpu(a1, a2)),
                ("two", with_cpu(a1, a2)), ("one", with_cpu(a1, a1))]
        one = sum(r[0]["rate"] + r[1]["rate"] for k, (r, _, _) in runs if k == "one") / 2
        two = sum(r[0]["rate"] + r[1]["rate"] for k, (r, _, _) in runs if k == "two") / 2
        ra, rb = runs[1][1][0]
        a1.drain()
        a2.drain()
        n2 = int(psql("dataflow_bench2", "SELECT count(*) FROM tb_product"))
        check2 = topic_check(a1, n2)
        print(f"Two serve processes, {c // 2} connections each (runs: one, two, two, one):")
        for k, ((x, y), per_k, st) in runs:
            print(f"  {k}: {x['rate'] + y['rate']:.0f} req/s (p99 {x['p99']:.1f} / {y['p99']:.1f} ms, "
                  f"non-2xx {x['non2xx'] + y['non2xx']}); CPU s per 1,000 (PostgreSQL, "
                  "dataflow, broker) " + ", ".join(f"{v:.3f}" for v in per_k))
            for line in st:
                print("      " + line)
        vs_full = (f", {two / full['rate']:.2f}x one process under one wrk"
                   if full["rate"] else "")
        print(f"  together {two:.0f} req/s = {two / one:.2f}x one process ({one:.0f} req/s)"
              f"{vs_full}; a/b in the first two-process run "
              f"{max(ra['rate'], rb['rate']) / min(ra['rate'], rb['rate']):.2f}")
        print(f"  topic: {check2}")
        a1.stop()
        a2.stop()
    except SkipOne:
        pass
    finally:
        tansu.terminate()
        tansu.wait()

    # 4. Embedded defaults: SQLite + in-process broker.
    if "4" not in a.only:
        return
    e = Serve({}, os.path.join(tmp, "embedded"))
    wrk(e, lua, c, 2)
    flush_dirty_pages()
    emb = wrk(e, lua, c, secs)
    e.drain()
    n3 = int(json.load(urllib.request.urlopen(
        urllib.request.Request(e.base + "/api/vert/product/all",
                               headers={"Authorization": "Bearer " + e.token})))["result"].__len__())
    check3 = topic_check(e, n3)
    print(f"Embedded defaults (SQLite synchronous=FULL + in-process broker), {c} connections:")
    print(f"  serve: {emb['rate']:.0f} req/s, p50 {emb['p50']:.1f} ms, p99 {emb['p99']:.1f} ms, "
          f"non-2xx {emb['non2xx']}")
    print(f"  topic: {check3}")
    e.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
