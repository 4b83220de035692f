#!/usr/bin/python3
"""libtorrent (Debian python3-libtorrent) as a reference, for swarm's interop tests.

  lt_tool.py make PATH OUT.torrent {v1|v2|hybrid} PIECE_BYTES   -> {"v1": hex|null, "v2": hex|null}
  lt_tool.py info TORRENT                                       -> {"v1":..., "v2":..., "num_pieces": n, "name": s}
  lt_tool.py check TORRENT SAVE_PATH                            -> {"num_pieces": n, "have": k}
  lt_tool.py seed TORRENT SAVE_PATH         checks the data, then prints "MAGNET uri" and
                                            "READY port" and seeds until stdin closes
  lt_tool.py get TORRENT|MAGNET SAVE_PATH IP:PORT [SECONDS]
                                            downloads from that one peer, prints "DONE" and
                                            exits 0 once everything is verified; 1 on timeout

make/info/check print one JSON object on stdout and use no network (DHT/LSD/UPnP
off, no listen). seed/get listen on 127.0.0.1 only, TCP only (no uTP: it is slow
on loopback), no DHT, LSD, UPnP, NAT-PMP or trackers: peers are given explicitly.
"""
import json, os, sys, time
import libtorrent as lt


def hashes(ti):
    ih = ti.info_hashes()
    return {"v1": str(ih.v1) if ih.has_v1() else None,
            "v2": str(ih.v2) if ih.has_v2() else None}


def make(path, out, kind, piece):
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[kind]
    fs = lt.file_storage()
    lt.add_files(fs, os.path.abspath(path))
    ct = lt.create_torrent(fs, piece, flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    return hashes(lt.torrent_info(out))


def info(t):
    ti = lt.torrent_info(t)
    d = hashes(ti)
    d.update({"num_pieces": ti.num_pieces(), "name": ti.name()})
    return d


def check(t, save):
    s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                    "enable_upnp": False, "enable_natpmp": False})
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(t)
    atp.save_path = save
    h = s.add_torrent(atp)
    done_states = (lt.torrent_status.downloading, lt.torrent_status.seeding,
                   lt.torrent_status.finished)
    deadline = time.time() + 120
    while time.time() < deadline:
        if h.status().state in done_states:
            break
        time.sleep(0.05)
    st = h.status()
    have = sum(1 for x in st.pieces if x)
    return {"num_pieces": atp.ti.num_pieces(), "have": have, "state": str(st.state)}


VERBOSE = os.environ.get("LT_TOOL_VERBOSE") == "1"


def peer_session():
    mask = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    if VERBOSE:  # every alert, including the peer wire log, to stderr
        mask = lt.alert.category_t.all_categories
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": mask,
    })


def log_alerts(s):
    for a in s.pop_alerts():
        if VERBOSE or a.category() & lt.alert.category_t.error_notification:
            print("alert:", a.message(), file=sys.stderr, flush=True)


def seed(t, save):
    s = peer_session()
    ti = lt.torrent_info(t)
    h = s.add_torrent({"ti": ti, "save_path": save})
    deadline = time.time() + 60
    while not h.status().is_seeding:
        if time.time() > deadline:
            sys.exit("seed: data did not check out: %s" % h.status().state)
        s.wait_for_alert(100)
        log_alerts(s)
    print("MAGNET " + lt.make_magnet_uri(ti), flush=True)
    print("READY %d" % s.listen_port(), flush=True)
    if VERBOSE:
        import threading
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        while True:
            s.wait_for_alert(500)
            log_alerts(s)
    sys.stdin.read()  # until the test closes stdin (or dies)


def get(src, save, peer, seconds):
    s = peer_session()
    if src.startswith("magnet:"):
        atp = lt.parse_magnet_uri(src)
    else:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(src)
    atp.save_path = save
    h = s.add_torrent(atp)
    ip, port = peer.rsplit(":", 1)
    deadline = time.time() + seconds
    last_connect = 0.0
    while time.time() < deadline:
        st = h.status()
        if st.is_seeding:
            print("DONE", flush=True)
            return
        # a peer given while the torrent is still checking is dropped:
        # (re)connect whenever there is none
        if st.num_peers == 0 and time.time() - last_connect > 0.5:
            h.connect_peer((ip, int(port)))
            last_connect = time.time()
        s.wait_for_alert(100)
        log_alerts(s)
    st = h.status()
    sys.exit("get: timed out: state %s, progress %.3f, peers %d"
             % (st.state, st.progress, st.num_peers))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        r = make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "info":
        r = info(sys.argv[2])
    elif cmd == "check":
        r = check(sys.argv[2], sys.argv[3])
    elif cmd == "seed":
        seed(sys.argv[2], sys.argv[3])
        sys.exit(0)
    elif cmd == "get":
        get(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 60)
        sys.exit(0)
    else:
        sys.exit("unknown command " + cmd)
    print(json.dumps(r))
