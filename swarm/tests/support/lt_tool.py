#!/usr/bin/python3
"""libtorrent (Debian python3-libtorrent) as a reference, for swarm's interop tests.

  lt_tool.py make PATH OUT.torrent {v1|v2|hybrid} PIECE_BYTES   -> {"v1": hex|null, "v2": hex|null}
  lt_tool.py info TORRENT                                       -> {"v1":..., "v2":..., "num_pieces": n, "name": s}
  lt_tool.py check TORRENT SAVE_PATH                            -> {"num_pieces": n, "have": k}

Prints one JSON object on stdout. Uses no network (DHT/LSD/UPnP off, no listen).
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


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        r = make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "info":
        r = info(sys.argv[2])
    elif cmd == "check":
        r = check(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)
    print(json.dumps(r))
