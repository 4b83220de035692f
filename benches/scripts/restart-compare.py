#!/usr/bin/env python3
"""Restart benchmark: a library of N small files (default 10,000), seeded
by seedbox, libtorrent and rqbit; each is stopped and started again, and we
measure the time from process start until it seeds every file again
(without rehashing), and its peak RSS at that moment. Median of RUNS runs;
page cache dropped before each run when root.

  benches/scripts/restart-compare.py [DIR]     (default /tmp/seedbox-restart-bench)

  FILES=10000  RUNS=3  RQBIT=/path/to/rqbit (skipped when absent)

Needs a release build of seedbox (built here) and /usr/bin/python3 with
python3-libtorrent.
"""
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/seedbox-restart-bench"
FILES = int(os.environ.get("FILES", "10000"))
RUNS = int(os.environ.get("RUNS", "3"))
RQBIT = os.environ.get("RQBIT") or shutil.which("rqbit") or "/tmp/lab/rqbit-build/root/bin/rqbit"
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
LT = ["/usr/bin/python3", os.path.join(ROOT, "benches/scripts/lt_restart.py")]


def drop_cache():
    subprocess.run(["sync"])
    if os.geteuid() == 0:
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        except OSError:
            pass


def hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def make_content(lib):
    if os.path.isdir(lib) and sum(len(f) for _, _, f in os.walk(lib)) == FILES:
        return
    shutil.rmtree(lib, ignore_errors=True)
    r = random.Random(11)
    for i in range(FILES):
        d = os.path.join(lib, f"shelf{i % 100:03}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"zine-{i:05}.pdf"), "wb") as f:
            f.write(os.urandom(r.randint(1024, 48 * 1024)))


def wait_line(proc, needle, bound):
    deadline = time.time() + bound
    for line in proc.stderr:
        if needle in line:
            return line
        if time.time() > deadline:
            break
    raise SystemExit(f"no {needle!r} within {bound}s")


def seedbox_cfg(state):
    os.makedirs(state, exist_ok=True)
    cfg = os.path.join(state, "seedbox.toml")
    with open(cfg, "w") as f:
        f.write(f'state_dir = "{state}"\n[network]\nlisten = "127.0.0.1:0"\n'
                f'quic_listen = "127.0.0.1:0"\nannounce = false\n[web]\nlisten = ""\n'
                f'[[collection]]\nname = "lib"\npath = "{DIR}/content/lib"\n')
    return cfg


def seedbox_run(cfg, needle):
    t0 = time.time()
    p = subprocess.Popen([os.path.join(TARGET, "release/seedbox"), "run", "--config", cfg],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, RUST_LOG="info"))
    wait_line(p, needle, 3600)
    secs, rss = time.time() - t0, hwm_kib(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    return secs, rss


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "seedbox"], cwd=ROOT, check=True)
    lib = os.path.join(DIR, "content/lib")
    make_content(lib)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(lib) for f in fs)
    print(f"library: {FILES} files, {size / 1e6:.0f} MB")
    results = {}

    # seedbox: first start hashes and publishes; restarts must not rehash.
    state = os.path.join(DIR, "seedbox-state")
    shutil.rmtree(state, ignore_errors=True)
    cfg = seedbox_cfg(state)
    first, _ = seedbox_run(cfg, "version 1 published")
    print(f"seedbox first start (hash + publish): {first:.2f} s")
    runs = []
    for _ in range(RUNS):
        drop_cache()
        runs.append(seedbox_run(cfg, "seeding again"))
    results["seedbox"] = runs
    torrent = os.path.join(state, "collections/lib.torrent")

    # libtorrent: check once and save fast-resume data, then restarts.
    lt_dir = os.path.join(DIR, "lt")
    os.makedirs(lt_dir, exist_ok=True)
    resume = os.path.join(lt_dir, "lib.resume")
    save = os.path.join(DIR, "content")
    subprocess.run(LT + ["prepare", torrent, save, resume], check=True, timeout=3600)
    runs = []
    for _ in range(RUNS):
        drop_cache()
        out = subprocess.run(LT + ["restart", torrent, save, resume], check=True,
                             capture_output=True, text=True, timeout=3600).stdout
        _, secs, rss = out.split()[:3]
        runs.append((float(secs), int(rss)))
    results["libtorrent"] = runs

    # rqbit: a server with session persistence and fast resume.
    if os.access(RQBIT, os.X_OK):
        rq_state = os.path.join(DIR, "rqbit-state")
        shutil.rmtree(rq_state, ignore_errors=True)
        os.makedirs(rq_state)

        def rqbit(needle_state, add):
            t0 = time.time()
            p = subprocess.Popen(
                [RQBIT, "--disable-dht", "--disable-dht-persistence", "--disable-lsd",
                 "--disable-trackers", "--disable-upnp-port-forward", "--http-api-listen-addr", "127.0.0.1:3939",
                 "--listen-port", "46999", "server", "start", "--fastresume",
                 "--persistence-location", rq_state, lib],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            import json
            import urllib.request
            deadline = time.time() + 3600
            added = not add
            while time.time() < deadline:
                try:
                    if not added:
                        req = urllib.request.Request(
                            "http://127.0.0.1:3939/torrents?overwrite=true&output_folder=" + lib,
                            data=open(torrent, "rb").read(), method="POST")
                        urllib.request.urlopen(req, timeout=5).read()
                        added = True
                    st = json.load(urllib.request.urlopen(
                        "http://127.0.0.1:3939/torrents/0/stats/v1", timeout=5))
                    if st.get("state") == "live" and st.get("finished"):
                        break
                except Exception:
                    pass
                time.sleep(0.02)
            secs, rss = time.time() - t0, hwm_kib(p.pid)
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
            return secs, rss

        first, _ = rqbit("live", add=True)
        print(f"rqbit first start (check + seed): {first:.2f} s")
        results["rqbit"] = [(drop_cache(), rqbit("live", add=False))[1] for _ in range(RUNS)]
    else:
        print(f"rqbit not found ({RQBIT}): skipped")

    base = statistics.median(s for s, _ in results["seedbox"])
    print(f"{'client':<11} {'restart s':>10} {'peak RSS MiB':>13} {'÷ seedbox':>10}")
    for name, runs in results.items():
        secs = statistics.median(s for s, _ in runs)
        rss = statistics.median(r for _, r in runs) / 1024
        print(f"{name:<11} {secs:>10.2f} {rss:>13.1f} {secs / base:>10.2f}")


main()
