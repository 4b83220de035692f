#!/usr/bin/python3
"""libtorrent LSD peer for the netns LAN test (swarm/tests/netns_lan.rs).

Usage: netns-lt-lsd.py <40-hex info-hash> <listen port>

Starts a libtorrent session with only LSD enabled (no DHT, trackers, UPnP),
adds the torrent by info-hash, prints READY, then prints
`LSD_PEER <ip>:<port>` for every LSD peer alert and exits after 60 s or
when stdin closes.
"""
import re
import select
import sys
import time

import libtorrent as lt

ih, port = sys.argv[1], int(sys.argv[2])
s = lt.session({
    "listen_interfaces": f"0.0.0.0:{port}",
    "enable_lsd": True,
    "enable_dht": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.all_categories,
})
p = lt.add_torrent_params()
p.info_hashes = lt.info_hash_t(lt.sha1_hash(bytes.fromhex(ih)))
p.save_path = "/tmp"
p.name = "lsd-probe"
h = s.add_torrent(p)
print("READY", flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    s.wait_for_alert(200)
    for a in s.pop_alerts():
        if a.what() == "lsd_peer":
            # the python bindings expose no endpoint: read it from the message
            m = re.search(r"peer \[ (\S+) ", a.message())
            print(f"LSD_PEER {m.group(1)}" if m else f"LSD_PEER_MSG {a.message()}", flush=True)
        elif "lsd" in a.what():
            print(f"LSD_ALERT {a.what()} {a.message()}", flush=True)
    r, _, _ = select.select([sys.stdin], [], [], 0)
    if r and not sys.stdin.readline():
        break
