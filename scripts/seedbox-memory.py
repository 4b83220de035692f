#!/usr/bin/env python3
"""Memory of the seedbox with a 10,000-file collection (a 1 GiB Pi's budget).

    python3 scripts/seedbox-memory.py SEEDBOX [--qemu QEMU --sysroot DIR] [--limit-mib 64]

Makes a collection of 10,000 small files in 100 folders, starts
`SEEDBOX run` on loopback (config from `seedbox init`), waits until the
collection is published, loads the patron page, a collection page and a
search. Prints the peak and the final RSS in MiB; exits 1 when the peak
is over --limit-mib.

The peak is the kernel's high-water mark (VmHWM), which no sampling can
miss: publishing a version is a burst of a fraction of a second.

Under qemu-user (--qemu) the process's RSS includes the emulator's own
translation cache, so only the guest's memory is counted: the host mappings
that lie in the guest's 4 GiB address space (QEMU puts a 32-bit guest at
guest_base 0 when it can; the script checks that the guest binary is mapped
there and refuses to measure otherwise). The guest's peak is then the
larger of its RSS sampled every 0.05 s and VmHWM less the emulator's own
RSS at the end (which only grows as it translates more code), so that a
burst between two samples still counts.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

FOUR_GIB = 1 << 32


def rss_kib(pid, guest_only):
    """Resident kB of `pid` (all of it, or the guest's 4 GiB under qemu)."""
    total = 0
    counted = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                counted = not guest_only or int(m.group(2), 16) <= FOUR_GIB
                continue
            if counted and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def hwm_kib(pid):
    """The process's peak resident set (VmHWM), kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def guest_at_zero(pid, binary):
    """Is the guest binary mapped below 4 GiB in the emulator's address space?"""
    real = os.path.realpath(binary)
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real:
                return int(parts[0].split("-")[0], 16) < FOUR_GIB
    return False


def serves(web):
    """Do the patron page, the collection's page and a search show it?"""
    for path, want in [("", b"/c/zines"), ("c/zines", b"zine 00000"), ("search?q=04242", b"zine 04242")]:
        body = urllib.request.urlopen(web + path, timeout=60).read()
        if want not in body:
            return False
    return True


def make_collection(root, files=10_000, per_dir=100):
    rnd = 1
    for i in range(files):
        d = os.path.join(root, f"shelf-{i // per_dir:03}")
        os.makedirs(d, exist_ok=True)
        rnd = (rnd * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        size = 200 + rnd % 6000
        with open(os.path.join(d, f"zine {i:05} a title here.pdf"), "wb") as f:
            f.write(rnd.to_bytes(8, "little") * (size // 8 + 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seedbox")
    ap.add_argument("--qemu")
    ap.add_argument("--sysroot")
    ap.add_argument("--limit-mib", type=float, default=64)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    run = [a.qemu, "-L", a.sysroot, a.seedbox] if a.qemu else [a.seedbox]
    tmp = tempfile.mkdtemp(prefix="seedbox-memory-")
    proc = None
    try:
        lib = os.path.join(tmp, "zines")
        make_collection(lib)
        conf = os.path.join(tmp, "seedbox.toml")
        subprocess.run(run + ["init", "--config", conf], check=True, stdout=subprocess.DEVNULL)
        text = open(conf).read()
        for old, new in [
            ('state_dir = "/var/lib/seedbox"', f'state_dir = "{tmp}/state"'),
            ('"0.0.0.0:6881"', '"127.0.0.1:0"'),
            ('"0.0.0.0:8080"', '"127.0.0.1:0"'),
            ("announce = true", "announce = false"),
            ("/srv/library/zines", lib),
        ]:
            assert old in text, f"seedbox init's config no longer has {old!r}"
            text = text.replace(old, new)
        open(conf, "w").write(text)
        out = open(os.path.join(tmp, "out"), "w+")
        err = open(os.path.join(tmp, "err"), "w+")
        proc = subprocess.Popen(run + ["run", "--config", conf], stdout=out, stderr=err)
        peak = last = 0
        web = None
        published = False
        deadline = time.time() + a.timeout
        served_at = None
        while time.time() < deadline:
            if proc.poll() is not None:
                err.seek(0)
                sys.exit(f"seedbox exited with {proc.returncode}:\n{err.read()[-3000:]}")
            if a.qemu and peak == 0 and not guest_at_zero(proc.pid, a.seedbox):
                time.sleep(0.2)
                if not guest_at_zero(proc.pid, a.seedbox):
                    sys.exit("qemu did not put the guest at guest_base 0: cannot tell its memory apart")
            last = rss_kib(proc.pid, bool(a.qemu))
            peak = max(peak, last)
            out.seek(0)
            m = re.search(r"web page: (http://\S+)", out.read())
            web = m.group(1) if m else web
            err.seek(0)
            published = published or "version 1 published" in err.read()
            if published and web and served_at is None and serves(web):
                served_at = time.time()
            if served_at and time.time() - served_at > 3:
                break
            time.sleep(0.05 if a.qemu else 0.2)
        else:
            sys.exit(f"not published and served within {a.timeout:.0f} s")
        hwm = hwm_kib(proc.pid)
        if a.qemu:
            # less the emulator's own RSS now, at least what it was at the peak
            hwm -= rss_kib(proc.pid, False) - rss_kib(proc.pid, True)
        peak = max(peak, hwm)
        where = "guest, under " + os.path.basename(a.qemu) if a.qemu else "process"
        print(
            f"seedbox, 10,000 files ({where}): peak RSS {peak / 1024:.1f} MiB, "
            f"after serving {last / 1024:.1f} MiB (limit {a.limit_mib:g} MiB)"
        )
        if peak > a.limit_mib * 1024:
            sys.exit(1)
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
