#!/usr/bin/env bash
# Side-by-side transfer benchmark on loopback: one seeder, one leecher, the
# same content for every client, page cache dropped before each run where
# the kernel lets us (root). Reports wall time, MB/s and the leecher's peak
# RSS, median of RUNS runs, and each client's time as a ratio of swarm TCP's.
# Runs are interleaved (run 1 of every client, then run 2, ...) so that load
# from other work on the machine falls on every client alike; the leecher's
# CPU seconds (user + system) per GiB are reported too.
#
#   benches/scripts/transfer-compare.sh [DIR]   (default /tmp/swarm-transfer-bench)
#
#   SIZE_MIB=1024    size of the single file (default 1 GiB)
#   LIB_FILES=2000   number of files in the library (default 2000, ~500 MB)
#   RUNS=3           runs per client and content
#   RQBIT=path       rqbit binary (skipped when absent; `cargo install rqbit`)
#   CLIENTS="swarm-tcp swarm-quic libtorrent rqbit"
#   SWARM_BEFORE=path  another swarm binary, run as client "swarm-before" (TCP,
#                      both ends): before/after comparisons in one run
#
# Needs: a release build of swarm (built here), /usr/bin/python3 with
# python3-libtorrent, GNU time (/usr/bin/time).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-/tmp/swarm-transfer-bench}
SIZE_MIB=${SIZE_MIB:-1024}
LIB_FILES=${LIB_FILES:-2000}
RUNS=${RUNS:-3}
RQBIT=${RQBIT:-$(command -v rqbit || echo /tmp/lab/rqbit-build/root/bin/rqbit)}
CLIENTS=${CLIENTS:-"swarm-tcp swarm-quic libtorrent rqbit"}
LT="/usr/bin/python3 $ROOT/benches/scripts/lt_peer.py"

(cd "$ROOT" && cargo build --release -q -p swarm-cli --bin swarm)
SWARM=${CARGO_TARGET_DIR:-$ROOT/target}/release/swarm
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

mkdir -p "$DIR/content"
if [ ! -f "$DIR/content/single/big.bin" ]; then
  mkdir -p "$DIR/content/single"
  head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$DIR/content/single/big.bin"
fi
if [ ! -d "$DIR/content/library/lib" ]; then
  mkdir -p "$DIR/content/library/lib"
  python3 - "$DIR/content/library/lib" "$LIB_FILES" <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2]); r = random.Random(7)
for i in range(n):
    sub = os.path.join(d, f"shelf{i % 40:02}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"zine-{i:05}.pdf"), "wb") as f:
        f.write(os.urandom(r.randint(16 * 1024, 480 * 1024)))
PY
fi
# one v1 torrent per content, made once with swarm, used by every client
"$SWARM" create "$DIR/content/single/big.bin" --v1 -o "$DIR/single.torrent" >/dev/null
"$SWARM" create "$DIR/content/library/lib" --v1 -o "$DIR/library.torrent" >/dev/null

drop_cache() { sync; [ "$(id -u)" = 0 ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

PORT=46881
run_one() { # client content -> prints "seconds rss_kib"
  local client=$1 content=$2 t="$DIR/$2.torrent" data="$DIR/content/$2" out="$DIR/out"
  # the seeder's log of the run before must not look like this one's ready line
  rm -rf "$out" "$DIR/state" "$DIR/seed.log"; mkdir -p "$out" "$DIR/state"
  PORT=$((PORT + 1))
  local seeder
  case $client in
    swarm-tcp|swarm-quic|swarm-before)
      local SWARM=$SWARM; [ "$client" = swarm-before ] && SWARM=$SWARM_BEFORE
      "$SWARM" share "$data/$( [ "$content" = single ] && echo big.bin || echo lib)" --torrent "$t" \
        --listen 127.0.0.1:$PORT --quic-listen 127.0.0.1:$PORT --no-announce \
        --state-dir "$DIR/state/seed" > "$DIR/seed.log" 2>&1 & seeder=$!
      local peer=127.0.0.1:$PORT; [ "$client" = swarm-quic ] && peer=quic://127.0.0.1:$PORT
      for _ in $(seq 600); do grep -q "seeding" "$DIR/seed.log" 2>/dev/null && break; sleep 0.1; done
      drop_cache
      # swarm-tcp: the leecher has no QUIC, or the peers would move to it.
      local noquic=(); [ "$client" != swarm-quic ] && noquic=(--no-quic)
      leech=("$SWARM" get "$t" -o "$out" --peer "$peer" "${noquic[@]}" --state-dir "$DIR/state/leech") ;;
    libtorrent)
      (sleep 3600 | $LT seed "$t" "$data" $PORT > "$DIR/seed.log" 2>&1) & seeder=$!
      for _ in $(seq 600); do grep -q READY "$DIR/seed.log" 2>/dev/null && break; sleep 0.1; done
      drop_cache
      leech=($LT get "$t" "$out" 127.0.0.1:$PORT) ;;
    rqbit)
      "$RQBIT" --disable-dht --disable-dht-persistence --disable-lsd --disable-trackers \
        --listen-port $PORT --http-api-listen-addr 127.0.0.1:$((PORT + 1000)) \
        download --overwrite -o "$data" "$t" > "$DIR/seed.log" 2>&1 & seeder=$!
      sleep 5 # rqbit checks the existing data first
      drop_cache
      leech=("$RQBIT" --disable-dht --disable-dht-persistence --disable-lsd --disable-trackers \
        --listen-port $((PORT + 2000)) --http-api-listen-addr 127.0.0.1:$((PORT + 3000)) \
        download -e -o "$out" --initial-peers 127.0.0.1:$PORT "$t") ;;
  esac
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$DIR/rss" timeout 900 "${leech[@]}" > "$DIR/leech.log" 2>&1 || echo "leech failed: $client $content (see $DIR/leech.log)" >&2
  end=$(date +%s.%N)
  pkill -P "$seeder" 2>/dev/null || true; kill "$seeder" 2>/dev/null || true; wait "$seeder" 2>/dev/null || true
  # the bytes must match
  if ! diff -rq "$data" "$out" >/dev/null 2>&1 && ! diff -rq "$data" "$out/$(ls "$out" | head -1)" >/dev/null 2>&1; then
    echo "WRONG BYTES: $client $content" >&2
  fi
  local rss usr sys; read -r rss usr sys < <(tail -1 "$DIR/rss")
  echo "$(echo "$end - $start" | bc) $rss $(echo "$usr + $sys" | bc)"
}

bytes_of() { du -sb "$DIR/content/$1" | cut -f1; }
printf "%-8s %-12s %9s %9s %12s %10s %10s %6s\n" content client seconds MB/s "peak RSS MiB" "CPU s/GiB" "÷ swarm-tcp" spread
median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
for content in single library; do
  size=$(bytes_of $content); base=""
  clients=()
  for client in $CLIENTS; do
    [ "$client" = rqbit ] && [ ! -x "$RQBIT" ] && { echo "rqbit not found ($RQBIT): skipped" >&2; continue; }
    [ "$client" = swarm-before ] && [ ! -x "${SWARM_BEFORE:-}" ] && { echo "SWARM_BEFORE not set: skipped" >&2; continue; }
    clients+=("$client")
  done
  declare -A results=()
  for run in $(seq "$RUNS"); do
    for client in "${clients[@]}"; do results[$client]+="$(run_one "$client" "$content")"$'\n'; done
  done
  for client in "${clients[@]}"; do
    r=${results[$client]}
    secs=$(printf "%s" "$r" | awk 'NF {print $1}' | median)
    rss=$(printf "%s" "$r" | awk 'NF {print $2}' | median)
    cpu=$(printf "%s" "$r" | awk 'NF {print $3}' | median)
    # spread: (slowest - fastest) / median of the wall times
    spread=$(printf "%s" "$r" | awk -v m="$secs" 'NF {if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1} END {printf "%.0f%%", (max - min) / m * 100}')
    [ -z "$base" ] && base=$secs
    printf "%-8s %-12s %9.2f %9.1f %12.1f %10.2f %10.2f %6s\n" "$content" "$client" "$secs" \
      "$(echo "$size / $secs / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" \
      "$(echo "$cpu * 1073741824 / $size" | bc -l)" "$(echo "$secs / $base" | bc -l)" "$spread"
  done
  unset results
done
