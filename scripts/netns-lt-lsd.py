#!/usr/bin/python3
"""libtorrent peer for the netns LAN tests (swarm/cli/tests/netns_lan.rs), with
only Local Service Discovery (BEP 14) to find peers: no DHT, trackers, UPnP.

Usage:
  netns-lt-lsd.py probe <40-hex info-hash> <port>
      add the torrent by info-hash; print `LSD_PEER <ip>:<port>` for every
      LSD peer heard.
  netns-lt-lsd.py seed <path> <port>
      make a v1 torrent of <path>, print `MAGNET <link>`, seed it.
  netns-lt-lsd.py get <magnet> <save dir> <port>
      download the magnet; print `DONE` when complete.

Each mode prints READY once started and runs until done, stdin closes or
120 s pass. Exit status 0 on success.
"""
import os
import re
import select
import sys
import time

import libtorrent as lt


def session(port):
    return lt.session({
        "listen_interfaces": f"0.0.0.0:{port}",
        "enable_lsd": True,
        "enable_dht": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.all_categories,
    })


def stdin_closed():
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(r) and not sys.stdin.readline()


def pump(s, h, done):
    deadline = time.time() + 120
    while time.time() < deadline:
        s.wait_for_alert(200)
        for a in s.pop_alerts():
            if a.what() == "lsd_peer":
                # the python bindings expose no endpoint: read it from the message
                m = re.search(r"peer \[ (\S+) ", a.message())
                print(f"LSD_PEER {m.group(1) if m else a.message()}", flush=True)
            elif a.what() in ("peer_connect", "peer_disconnected", "torrent_error", "metadata_received"):
                print(f"ALERT {a.what()} {a.message()}", flush=True)
        if done is not None and done(h):
            print("DONE", flush=True)
            return 0
        if stdin_closed():
            return 0 if done is None else 1
    return 0 if done is None else 1


def main():
    mode = sys.argv[1]
    if mode == "probe":
        ih, port = sys.argv[2], int(sys.argv[3])
        s = session(port)
        p = lt.add_torrent_params()
        p.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(ih)))
        p.save_path = "/tmp"
        p.name = "lsd-probe"
        h = s.add_torrent(p)
        print("READY", flush=True)
        return pump(s, h, None)
    if mode == "seed":
        path, port = os.path.abspath(sys.argv[2]), int(sys.argv[3])
        fs = lt.file_storage()
        lt.add_files(fs, path)
        t = lt.create_torrent(fs, 0, lt.create_torrent.v1_only)
        lt.set_piece_hashes(t, os.path.dirname(path))
        ti = lt.torrent_info(lt.bencode(t.generate()))
        s = session(port)
        h = s.add_torrent({"ti": ti, "save_path": os.path.dirname(path),
                           "flags": lt.torrent_flags.seed_mode})
        print(f"MAGNET {lt.make_magnet_uri(ti)}", flush=True)
        print("READY", flush=True)
        return pump(s, h, None)
    if mode == "get":
        magnet, save, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
        s = session(port)
        p = lt.parse_magnet_uri(magnet)
        p.save_path = save
        h = s.add_torrent(p)
        print("READY", flush=True)
        return pump(s, h, lambda h: h.status().is_seeding)
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
