#!/usr/bin/env python3
"""Correct-password logins over HTTP: two binaries (before and after a change) in one run.

  python3 scripts/bench_login.py OLD_BIN NEW_BIN [LOGINS]

Each binary runs `serve` on a fresh PostgreSQL database (DATABASE_URL's server, default
postgres://postgres@127.0.0.1:5432/postgres) with the embedded broker, in the order old, new,
new, old (ABBA, so drift on the shared machine falls on both). Per window: LOGINS logins one
after the other (the latency a person sees), then LOGINS over 4 threads (throughput), after
20 warm-up logins. Prints the median and p99 of the first and logins/s of the second.
"""

import http.client
import socket
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

PASSWORD = "bench-login-passphrase"  # public: in config::PUBLISHED_SECRETS
ADMIN = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def psql(sql):
    subprocess.run(["psql", ADMIN, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def login(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"username": "vert", "password": PASSWORD})
    start = time.perf_counter()
    conn.request("POST", "/api/vert/auth/login", body, {"Content-Type": "application/json"})
    status = conn.getresponse().status
    took = time.perf_counter() - start
    conn.close()
    if status != 200:
        raise SystemExit(f"login answered {status}")
    return took


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def window(binary, logins):
    name = f"bench_login_{os.getpid()}_{int(time.time() * 1000)}"
    psql(f"CREATE DATABASE {name}")
    url = urllib.parse.urlparse(ADMIN)._replace(path="/" + name).geturl()
    data = tempfile.mkdtemp()
    env = dict(os.environ, DATABASE_URL=url, PASSWORD_API="bench-login-passphrase", DATAFLOW_DATA_DIR=data,
               RUST_LOG="warn")
    env.pop("KAFKA_HOST", None)
    port = free_port()
    log = open(os.path.join(data, "serve.err"), "w+")
    proc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        proc.stdout.readline()  # the address line: listening
        for _ in range(20):
            login(port)
        one = sorted(login(port) for _ in range(logins))
        times = []
        lock = threading.Lock()

        def worker(n):
            for _ in range(n):
                t = login(port)
                with lock:
                    times.append(t)

        start = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(logins // 4,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rate = len(times) / (time.perf_counter() - start)
        return statistics.median(one) * 1000, one[int(len(one) * 0.99) - 1] * 1000, rate
    except BaseException:
        log.seek(0)
        sys.stderr.write(log.read()[-2000:])
        raise
    finally:
        proc.terminate()
        proc.wait()
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main():
    old, new = sys.argv[1], sys.argv[2]
    logins = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    results = {old: [], new: []}
    for label, binary in [("old", old), ("new", new), ("new", new), ("old", old)]:
        p50, p99, rate = window(binary, logins)
        results[binary].append((p50, p99, rate))
        print(f"{label}: one client p50 {p50:.2f} ms, p99 {p99:.2f} ms; 4 threads {rate:.1f} logins/s",
              flush=True)
    mean = lambda rows, i: statistics.mean(r[i] for r in rows)
    print(f"new/old: p50 {mean(results[new], 0) / mean(results[old], 0):.3f}x, "
          f"logins/s {mean(results[new], 2) / mean(results[old], 2):.3f}x")


if __name__ == "__main__":
    main()
