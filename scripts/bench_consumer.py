#!/usr/bin/env python3
"""The consumer route on Tansu: `GET /api/vert/kafka/consumer/product?max=1000` right after
1,000 registrations (each answered on the broker's acknowledgement), then an empty call;
ROUNDS rounds. `dataflow serve` on PostgreSQL (127.0.0.1) with Tansu (memory storage).
With RUST_LOG=dataflow::kafka::group=debug the serve log splits each call (marks, committed
positions, reading, commit).

  cargo build --release && python3 scripts/bench_consumer.py [ROUNDS]
"""
import json
import os
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_write import BODY, Serve, fresh_db, start_tansu  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def main():
    tmp = tempfile.mkdtemp(prefix="bench-consumer-")
    tansu, kafka = start_tansu(tmp)
    try:
        url = fresh_db("dataflow_bench_consumer")
        s = Serve({"DATABASE_URL": url, "KAFKA_HOST": kafka, "CONSUMER_GROUP": "bench"},
                  os.path.join(tmp, "d"))
        auth = {"Authorization": "Bearer " + s.token}

        def call():
            t = time.perf_counter()
            req = urllib.request.Request(s.base + "/api/vert/kafka/consumer/product?max=1000",
                                         headers=auth)
            n = len(json.load(urllib.request.urlopen(req))["result"])
            return n, (time.perf_counter() - t) * 1000

        n, ms = call()
        print(f"first call (starts the group's reader): {n} messages in {ms:.1f} ms")
        full = []
        for _ in range(ROUNDS):
            for _ in range(1000):
                req = urllib.request.Request(s.base + "/api/vert/register/product", BODY.encode(),
                                             {**auth, "Content-Type": "application/json"})
                urllib.request.urlopen(req).read()
            n, ms = call()
            e, ems = call()
            full.append(ms)
            print(f"1,000 new: {n} messages in {ms:.1f} ms; then nothing new: {e} in {ems:.1f} ms")
        full.sort()
        print(f"1,000 new messages: median {full[len(full) // 2]:.1f} ms, max {full[-1]:.1f} ms "
              f"(target < 100 ms)")
        s.stop()
    finally:
        tansu.terminate()


if __name__ == "__main__":
    main()
