#!/usr/bin/env python3
"""Startup and typing-latency figures for BENCHMARKS.md, measured on the real release binary
through tmux: time to an interactive login screen, and key-to-screen latency while idle and
while the live tail receives a flood (dataflow bench --flood). Needs tmux."""
import os, statistics, subprocess, sys, tempfile, time

BIN = os.path.abspath("target/release/dataflow")
SOCK = "dataflow-latency"


def tmux(*args):
    return subprocess.run(["tmux", "-L", SOCK, *args], capture_output=True, text=True).stdout


def screen():
    return tmux("capture-pane", "-p", "-t", "s")


def wait_for(pred, timeout=30):
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        s = screen()
        if pred(s):
            return time.perf_counter() - start
        time.sleep(0.002)
    raise SystemExit("timeout; screen:\n" + screen())


def start(data):
    env = f"env -u DATABASE_URL -u KAFKA_HOST DATAFLOW_DATA_DIR={data} {BIN}; echo EXITED $?; sleep 30"
    t0 = time.perf_counter()
    tmux("new-session", "-d", "-s", "s", "-x", "100", "-y", "30", env)
    wait_for(lambda s: "log in" in s)
    return time.perf_counter() - t0


def typing(n):
    """Types n characters into the name field, one at a time, timing each until it shows."""
    out = []
    for i in range(n):
        before = screen().count("x")
        t0 = time.perf_counter()
        tmux("send-keys", "-t", "s", "x")
        wait_for(lambda s: s.count("x") > before)
        out.append((time.perf_counter() - t0) * 1000)
    tmux("send-keys", "-t", "s", "C-r")
    time.sleep(0.2)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    starts = []
    for _ in range(10):
        with tempfile.TemporaryDirectory() as d:
            tmux("kill-server")
            starts.append(start(d) * 1000)
            tmux("kill-server")
            time.sleep(0.3)  # let the old tmux server go before the next one starts
    print(f"process start to login screen (incl. tmux polling), 10 runs: median {statistics.median(starts):.0f} ms, max {max(starts):.0f} ms")
    with tempfile.TemporaryDirectory() as d:
        start(d)
        wait_for(lambda s: "Kafka embedded" in s)
        tmux("send-keys", "-t", "s", "-l", "vert")
        tmux("send-keys", "-t", "s", "Tab")
        tmux("send-keys", "-t", "s", "-l", "vert")
        tmux("send-keys", "-t", "s", "Enter")
        wait_for(lambda s: "user vert" in s)
        idle = typing(40)
        print(f"key to screen, idle: median {statistics.median(idle):.1f} ms, p95 {pct(idle, 0.95):.1f} ms")
        flood = subprocess.Popen([BIN, "bench", "--flood", str(rate), "--seconds", "20"],
                                 env={**os.environ, "DATAFLOW_DATA_DIR": d}, stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        busy = typing(60)
        print(f"key to screen, tail receiving {rate}/s: median {statistics.median(busy):.1f} ms, p95 {pct(busy, 0.95):.1f} ms, max {max(busy):.1f} ms")
        tmux("send-keys", "-t", "s", "Escape")
        time.sleep(0.2)
        tmux("send-keys", "-t", "s", "3")
        time.sleep(1.5)
        title = [l for l in screen().splitlines() if "Topic" in l]
        print("tail pane during the flood:", title[1].strip("─┌┐ ") if len(title) > 1 else title)
        print("flood:", flood.communicate()[0].strip())
        tmux("kill-server")


if __name__ == "__main__":
    main()
