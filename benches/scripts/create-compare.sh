#!/bin/bash
# create-compare.sh — side-by-side torrent creation: swarm vs mktorrent vs
# libtorrent (python bindings), on the lab content from
# /work/shared/lab/make-content.sh (1 GiB file, 2,000-file ~500 MB library)
# or on your own paths: create-compare.sh [BIG_FILE] [LIBRARY_DIR]
# Piece size 1 MiB (big) / 256 KiB (library), all cores where the tool can.
# Each run is timed once after a warm-up `cat` (page cache warm): compare
# ratios within one run, the machine is shared.
set -euo pipefail
BIG=${1:-/tmp/lab/content/big/big.bin}
LIB=${2:-/tmp/lab/content/zines}
SWARM_CREATE=${SWARM_CREATE:-${CARGO_TARGET_DIR:-target}/release/examples/create_torrent}
# build: cargo build --release -p piece-core --example create_torrent
HERE=$(cd "$(dirname "$0")" && pwd)
LT=$HERE/../../piece-core/tests/support/lt_helper.py
OUT=$(mktemp -d /tmp/create-compare.XXXX)
NPROC=$(nproc)

t() { # label cmd...
  local s e
  s=$(date +%s.%N); "${@:2}" >/dev/null 2>&1 || echo "  ($1 failed)"; e=$(date +%s.%N)
  printf '%-28s %6.2f s\n' "$1" "$(echo "$e - $s" | bc)"
}

for set in big lib; do
  src=$BIG; lg=20; [ $set = lib ] && { src=$LIB; lg=18; }
  [ -e "$src" ] || { echo "missing $src (run make-content.sh)"; continue; }
  find "$src" -type f -exec cat {} + >/dev/null   # warm the page cache
  echo "== $set: $src (piece 2^$lg)"
  t "swarm v1"          "$SWARM_CREATE" "$src" "$OUT/$set-s-v1.torrent" v1 $((1 << lg))
  t "mktorrent v1 -t$NPROC" mktorrent -t "$NPROC" -l $lg -o "$OUT/$set-mk.torrent" "$src"
  t "libtorrent v1"     /usr/bin/python3 "$LT" create "$src" "$OUT/$set-lt-v1.torrent" v1 $((1 << lg))
  t "swarm hybrid"      "$SWARM_CREATE" "$src" "$OUT/$set-s-hy.torrent" hybrid $((1 << lg))
  t "libtorrent hybrid" /usr/bin/python3 "$LT" create "$src" "$OUT/$set-lt-hy.torrent" hybrid $((1 << lg))
  t "swarm v2"          "$SWARM_CREATE" "$src" "$OUT/$set-s-v2.torrent" v2 $((1 << lg))
  t "libtorrent v2"     /usr/bin/python3 "$LT" create "$src" "$OUT/$set-lt-v2.torrent" v2 $((1 << lg))
done
rm -rf "$OUT"
