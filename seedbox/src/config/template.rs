//! The commented config `seedbox init` writes.

/// The file `seedbox init` writes.
pub const TEMPLATE: &str = r#"# seedbox configuration (TOML). Lines starting with '#' are comments.
# Check it with `seedbox check --config FILE`; run with `seedbox run --config FILE`.

# Where the seedbox keeps its signing key, published torrents and resume
# data. It must survive reboots (not /tmp), and must not be inside a shared
# folder (its private key would be published).
state_dir = "/var/lib/seedbox"

[network]
# BitTorrent peer port (TCP). Other BitTorrent clients connect here.
listen = "0.0.0.0:6881"
# QUIC (UDP) port for links between swarm peers. Remove the line to disable.
quic_listen = "0.0.0.0:6881"
# Announce collections on the LAN (mDNS and BEP 14 local service discovery).
announce = true

[web]
# The patron web page (browse, search, download; OPDS catalogue at /opds).
listen = "0.0.0.0:8080"
title = "Infoshop library"
# The admin page (/admin) answers on loopback only. To reach it from another
# machine, set a long random token and send it as "Authorization: Bearer ...".
# admin_token = ""
# Host names patrons use besides IP addresses, localhost and <hostname>.local.
# hosts = ["library.lan"]
# Most web connections open at once; the file descriptors beyond them are
# kept for the BitTorrent side. Idle and slow connections are closed.
# max_connections = 256
# Largest file a librarian may add from the admin page's upload form, in MiB.
# max_upload_mb = 512

[limits]
# Most peer connections per collection.
max_peers = 50
# Upload limit per collection, bytes per second (0 = unlimited).
upload_rate = 0
# Full rescan of every collection folder, in seconds (changes are also
# picked up at once by watching the folders).
rescan_secs = 300

# One [[collection]] per folder to share. The name is used in links: letters,
# digits, '-' and '_' only. Collections may not be inside one another.
[[collection]]
name = "zines"
path = "/srv/library/zines"
title = "Zines"  # signed with each version: mirrors show it too (at most 256 bytes)
# Never shared: hidden files and folders (.DS_Store, .git/), system litter
# (Thumbs.db, desktop.ini) and unfinished downloads or copies (*.part,
# *.crdownload, *.!qB, *~, ~$*). Files that cannot be read are skipped and
# listed on the admin page. Leave out more with patterns (a name at any
# depth, or a path from the folder when it has a '/'; case is ignored), or
# share only files that match `include`:
# exclude = ["drafts", "*.docx", "scans/raw/**"]
# include = ["*.pdf", "*.epub"]
#
# Titles, authors, languages, descriptions and covers are read from EPUB
# and PDF files; other files get a title from their name. To set or correct
# them, put a file named catalogue.toml at the top of the collection folder
# (it is shared with the collection, so mirrors get it too, and it is not
# listed as a book). One [[file]] per file, its path from the folder:
#   [[file]]
#   path = "zines/bike-repair-basics.pdf"
#   title = "Bike Repair Basics"
#   authors = ["Ana Pérez"]        # or: author = "Ana Pérez"
#   tags = ["bikes", "repair"]     # found by search, shown in OPDS
#   language = "en"
#   description = "Fix a flat, true a wheel."

# Follow another seedbox's collection and keep a verified copy here, seeded
# in turn. "name" is the collection's name on the other seedbox; "key" pins
# its publisher key (shown on its admin page) - without it the first key seen
# is pinned. "peers" lists addresses to ask besides the LAN (optional).
# "path" must be a new or empty folder, not inside or around a collection:
# the seedbox marks it as its own (.seedbox-mirror, which also records the
# files it downloaded) and only ever deletes files it downloaded itself.
# [[mirror]]
# name = "zines"
# key = "5f1c...e9"
# path = "/srv/library/zines-northside"
# local_name = "zines-northside"
# title = "Zines from the Northside"  # shown on the patron page (default: the publisher's title)
# peers = ["192.168.1.20:6881"]
# poll_secs = 30  # how often to ask; on the LAN, new versions also arrive at once (pushed)
"#;
