#!/usr/bin/python3
"""libtorrent (python3-libtorrent) as one side of a transfer benchmark, with
an explicit peer: no DHT, LSD, UPnP or trackers.

  lt_peer.py seed <file.torrent> <data dir> <port>     seeds until stdin closes
  lt_peer.py get  <file.torrent> <save dir> <ip:port>  exits 0 when complete (600 s bound)
"""
import sys
import time

import libtorrent as lt


def session(port):
    return lt.session({
        "listen_interfaces": f"127.0.0.1:{port}",
        "enable_lsd": False, "enable_dht": False,
        "enable_upnp": False, "enable_natpmp": False,
        # TCP like the other clients (libtorrent's uTP is slow on loopback)
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification,
    })


def main():
    mode, torrent, folder = sys.argv[1], sys.argv[2], sys.argv[3]
    ti = lt.torrent_info(torrent)
    if mode == "seed":
        s = session(int(sys.argv[4]))
        s.add_torrent({"ti": ti, "save_path": folder, "flags": lt.torrent_flags.seed_mode})
        print("READY", flush=True)
        sys.stdin.read()
        return 0
    if mode == "get":
        ip, port = sys.argv[4].rsplit(":", 1)
        s = session(0)
        h = s.add_torrent({"ti": ti, "save_path": folder})
        deadline = time.time() + 600
        last_connect = 0.0
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding:
                return 0
            # a peer given while the torrent is still checking is dropped:
            # (re)connect whenever there is none
            if st.num_peers == 0 and time.time() - last_connect > 0.2:
                h.connect_peer((ip, int(port)))
                last_connect = time.time()
            s.wait_for_alert(100)
            s.pop_alerts()
        print("timed out", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
