#!/usr/bin/env python3
"""Catalogue benchmark: a library of N books (default 10,000: EPUBs with
title, authors, language, subjects and, one in COVER_EVERY, a cover image;
PDFs with an information dictionary and pages), shared by one seedbox
collection. Measures:

  first scan  from process start until the version is listed on the web
              (hashing, metadata extraction, cover thumbnails)
  restart     the same after a stop (saved version, cached metadata)
  search      /search?q=... latency over QUERIES queries (one keep-alive
              connection; 1-3 words taken from titles, authors, subjects),
              p50 and p99, client side
  RSS         daemon resident memory after the searches (VmRSS, VmHWM)

  benches/scripts/catalogue-bench.py [DIR]   (default /tmp/seedbox-catalogue-bench)

  BOOKS=10000  QUERIES=1000  COVER_EVERY=10  SEEDBOX_BIN=... (default: a release build, made here)

Needs a release build of seedbox (built here). The library is kept in DIR
between runs; delete DIR when done (about 350 MB for 10,000 books).
"""
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/seedbox-catalogue-bench"
BOOKS = int(os.environ.get("BOOKS", "10000"))
QUERIES = int(os.environ.get("QUERIES", "1000"))
COVER_EVERY = int(os.environ.get("COVER_EVERY", "10"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.environ.get("SEEDBOX_BIN")

WORDS = ("bike repair garden café anarchy kitchen seed zine radio solar sewing "
         "knitting compost bread printing library commune river mountain night "
         "winter forest children songs poems letters history workers housing "
         "water bees mushrooms tools maps weaving pottery bicycles clinics").split()
FIRST = "Ana Zoë José Marie Kwame Li Olga Søren Ines Tomás Aiyana Noor Jürgen".split()
LAST = "Pérez Durand Okafor Nguyen Kowalska Müller Silva Haddad Björk Rossi Tanaka".split()
LANGS = ["en", "fr", "es", "de", "pt"]


def png(w, h, seed):
    """A w x h RGB PNG (gradient), without any imaging library."""
    rows = b"".join(b"\0" + bytes(v for x in range(w)
                                   for v in ((x + y + seed) % 256, (x * 3) % 256, (y * 5) % 256))
                    for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def xml(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def epub(path, title, authors, lang, subjects, cover):
    meta = f"<dc:title>{xml(title)}</dc:title>" + "".join(
        f"<dc:creator>{xml(a)}</dc:creator>" for a in authors) + \
        f"<dc:language>{lang}</dc:language>" + "".join(
        f"<dc:subject>{xml(s)}</dc:subject>" for s in subjects) + \
        f"<dc:description>A book about {xml(' and '.join(subjects))}.</dc:description>"
    manifest = '<item id="cov" href="img/cover.png" media-type="image/png" properties="cover-image"/>' if cover else ""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                   '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
                   zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/content.opf",
                   '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                   f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">{meta}</metadata>'
                   f'<manifest>{manifest}<item id="t" href="text.xhtml" media-type="application/xhtml+xml"/></manifest></package>',
                   zipfile.ZIP_DEFLATED)
        z.writestr("OEBPS/text.xhtml", ("<p>" + title + "</p>\n") * 200, zipfile.ZIP_DEFLATED)
        if cover:
            z.writestr("OEBPS/img/cover.png", cover, zipfile.ZIP_STORED)


def pdf_string(s):
    return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"


def pdf(path, title, author, pages):
    out = bytearray(b"%PDF-1.4\n")
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
            f"<< /Title {pdf_string(title)} /Author {pdf_string(author)} /Producer (bench) >>"]
    objs += ["<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 595] >>"] * pages
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for o in offs:
        out += f"{o:010} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 3 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    with open(path, "wb") as f:
        f.write(out)


def make_library(lib):
    marker = os.path.join(os.path.dirname(lib), f"made-{BOOKS}")
    if os.path.exists(marker):
        with open(marker) as f:
            return json.load(f)
    shutil.rmtree(lib, ignore_errors=True)
    r = random.Random(15)
    covers = [png(300, 450, s) for s in range(8)]
    terms = []
    for i in range(BOOKS):
        d = os.path.join(lib, f"shelf{i % 100:03}")
        os.makedirs(d, exist_ok=True)
        words = r.sample(WORDS, 3)
        title = " ".join(w.capitalize() for w in words) + f" {i}"
        authors = [f"{r.choice(FIRST)} {r.choice(LAST)}" for _ in range(r.choice([1, 1, 2]))]
        slug = "-".join(words) + f"-{i}"
        if i % 2 == 0:
            cover = covers[i % len(covers)] if COVER_EVERY and i % COVER_EVERY == 0 else None
            epub(os.path.join(d, slug + ".epub"), title, authors, r.choice(LANGS), r.sample(WORDS, 2), cover)
        else:
            pdf(os.path.join(d, slug + ".pdf"), title, authors[0], r.randint(1, 40))
        terms.append((words, authors))
    with open(marker, "w") as f:
        json.dump(terms, f)
    return terms


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start(config):
    t0 = time.monotonic()
    p = subprocess.Popen([BIN or os.path.join(TARGET, "release/seedbox"), "run", "--config", config],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, RUST_LOG="info"))
    port = None
    for line in p.stdout:
        if "web page: http://" in line:
            port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        if "collection books: version" in line and port:
            break
    # Listed on the web: the patron page shows the whole collection.
    while True:
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/opds")
        body = c.getresponse().read().decode()
        if f"{BOOKS} files" in body:
            break
        time.sleep(0.01)
    return p, port, time.monotonic() - t0


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def main():
    if not BIN:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "seedbox"], cwd=ROOT, check=True)
    os.makedirs(DIR, exist_ok=True)
    lib = os.path.join(DIR, "books")
    t = time.monotonic()
    terms = make_library(lib)
    print(f"library: {BOOKS} books made in {time.monotonic() - t:.1f}s")
    state = os.path.join(DIR, "state")
    shutil.rmtree(state, ignore_errors=True)
    config = os.path.join(DIR, "seedbox.toml")
    with open(config, "w") as f:
        f.write(f'state_dir = "{state}"\n[network]\nlisten = "127.0.0.1:0"\nquic_listen = "127.0.0.1:0"\n'
                f'announce = false\n[web]\nlisten = "127.0.0.1:0"\n[limits]\nrescan_secs = 3600\n'
                f'[[collection]]\nname = "books"\npath = "{lib}"\n')
    p, port, first = start(config)
    print(f"first scan: {first:.2f}s")
    stop(p)
    p, port, restart = start(config)
    print(f"restart: {restart:.2f}s")
    r = random.Random(1)
    queries = []
    for _ in range(QUERIES):
        words, authors = r.choice(terms)
        kind = r.random()
        if kind < 0.4:
            q = " ".join(r.sample(words, r.randint(1, len(words))))
        elif kind < 0.7 and authors:
            q = r.choice(authors).split()[-1]
        else:
            q = r.choice(WORDS)[: r.randint(3, 6)]
        queries.append(q)
    c = http.client.HTTPConnection("127.0.0.1", port)
    lat = []
    for q in queries:
        t = time.perf_counter()
        c.request("GET", "/search?q=" + urllib.parse.quote(q))
        resp = c.getresponse()
        resp.read()
        lat.append((time.perf_counter() - t) * 1000)
        assert resp.status == 200
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99) - 1]
    rss = rss_kib(p.pid, "VmRSS") / 1024
    hwm = rss_kib(p.pid, "VmHWM") / 1024
    print(f"search: {QUERIES} queries, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {lat[-1]:.2f} ms")
    print(f"RSS after searches: {rss:.1f} MiB (peak {hwm:.1f} MiB)")
    stop(p)


if __name__ == "__main__":
    main()
