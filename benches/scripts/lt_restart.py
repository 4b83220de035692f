#!/usr/bin/python3
"""libtorrent restart benchmark helper (python3-libtorrent, Debian's
/usr/bin/python3). No DHT, LSD, UPnP or trackers.

  lt_restart.py prepare <file.torrent> <save dir> <resume file>
      check the data once, seed, save fast-resume data, exit
  lt_restart.py restart <file.torrent> <save dir> <resume file>
      start from the fast-resume data; print "READY <seconds> <VmHWM KiB>"
      once the torrent is seeding (seconds from process start), exit
"""
import sys
import time

T0 = time.time()
import libtorrent as lt  # noqa: E402


def hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_lsd": False, "enable_dht": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })


def wait_seeding(s, h, bound=3600):
    deadline = time.time() + bound
    while time.time() < deadline:
        if h.status().is_seeding:
            return True
        s.wait_for_alert(50)
        s.pop_alerts()
    return False


def main():
    mode, torrent, save, resume = sys.argv[1:5]
    s = session()
    if mode == "prepare":
        h = s.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save})
        if not wait_seeding(s, h):
            print("data does not verify", file=sys.stderr)
            return 1
        h.save_resume_data(lt.torrent_handle.save_info_dict)
        deadline = time.time() + 120
        while time.time() < deadline:
            s.wait_for_alert(500)
            for a in s.pop_alerts():
                if isinstance(a, lt.save_resume_data_alert):
                    with open(resume, "wb") as f:
                        f.write(lt.write_resume_data_buf(a.params))
                    return 0
        return 1
    if mode == "restart":
        with open(resume, "rb") as f:
            p = lt.read_resume_data(f.read())
        p.save_path = save
        h = s.add_torrent(p)
        if not wait_seeding(s, h):
            print("not seeding", file=sys.stderr)
            return 1
        print(f"READY {time.time() - T0:.3f} {hwm_kib()}", flush=True)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
