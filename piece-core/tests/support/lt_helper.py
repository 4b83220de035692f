#!/usr/bin/python3
"""libtorrent helper for piece-core/tests/interop_libtorrent.rs.

  lt_helper.py create PATH OUT.torrent {v1|v2|hybrid} PIECE_BYTES
      creates a torrent with libtorrent (as /work/shared/lab/mktorrent_lt.py)
  lt_helper.py check TORRENT SAVE_PATH
      loads TORRENT, adds it to a loopback-only session with SAVE_PATH, waits
      for the hash check to finish
Both print one line: "v1=<hex|-> v2=<hex|-> pieces=<n> have=<n>" (have = -1
for create).
"""
import os, sys, time
import libtorrent as lt


def hashes(ti):
    ih = ti.info_hashes()
    v1 = str(ih.v1) if ih.has_v1() else "-"
    v2 = str(ih.v2) if ih.has_v2() else "-"
    return v1, v2


def create(path, out, kind, piece):
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}[kind]
    fs = lt.file_storage()
    lt.add_files(fs, os.path.abspath(path))
    ct = lt.create_torrent(fs, piece, flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ti = lt.torrent_info(out)
    v1, v2 = hashes(ti)
    print("v1=%s v2=%s pieces=%d have=-1" % (v1, v2, ti.num_pieces()))


def check(torrent, save_path):
    ti = lt.torrent_info(torrent)
    v1, v2 = hashes(ti)
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": 0,
    })
    h = s.add_torrent({"ti": ti, "save_path": save_path})
    deadline = time.time() + 60
    while True:
        st = h.status()
        if st.state not in (lt.torrent_status.checking_files,
                            lt.torrent_status.checking_resume_data) and st.has_metadata \
                and st.state != lt.torrent_status.allocating:
            # give a just-added torrent a moment to enter checking
            if st.num_pieces > 0 or time.time() > deadline - 55:
                break
        if time.time() > deadline:
            print("timeout waiting for libtorrent check", file=sys.stderr)
            sys.exit(2)
        time.sleep(0.05)
    st = h.status()
    print("v1=%s v2=%s pieces=%d have=%d" % (v1, v2, ti.num_pieces(), st.num_pieces))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "create":
        create(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)
