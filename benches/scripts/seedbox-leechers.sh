#!/usr/bin/env bash
# Seedbox serving many leechers at once on loopback: one seedbox with one
# collection, N `swarm get` leechers started together (each given only the
# seedbox's address). Reports wall time until every leecher has verified
# its copy, aggregate throughput, and the daemon's peak RSS; checks every
# copy's bytes.
#
#   benches/scripts/seedbox-leechers.sh [DIR]   (default /tmp/seedbox-leechers-bench)
#
#   LEECHERS=50   FILES=20   FILE_KIB=2560   (20 x 2.5 MiB = 50 MiB collection)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-/tmp/seedbox-leechers-bench}
LEECHERS=${LEECHERS:-50}
FILES=${FILES:-20}
FILE_KIB=${FILE_KIB:-2560}
(cd "$ROOT" && cargo build --release -q -p seedbox -p swarm-cli)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

rm -rf "$DIR"; mkdir -p "$DIR/lib" "$DIR/out"
for i in $(seq "$FILES"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "$DIR/lib/zine-$i.pdf"; done
SIZE=$(du -sb "$DIR/lib" | cut -f1)
cat > "$DIR/seedbox.toml" <<TOML
state_dir = "$DIR/state"
[network]
listen = "127.0.0.1:0"
quic_listen = "127.0.0.1:0"
announce = false
[web]
listen = ""
[limits]
max_peers = $((LEECHERS + 10))
[[collection]]
name = "lib"
path = "$DIR/lib"
TOML
"$BIN/seedbox" run --config "$DIR/seedbox.toml" > "$DIR/seedbox.out" 2> "$DIR/seedbox.log" &
SB=$!
trap 'kill $SB 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "version 1 published" "$DIR/seedbox.log" && break; sleep 0.1; done
MAGNET=$(grep -o 'magnet:[^ ]*' "$DIR/seedbox.log" | head -1)
ADDR=$(awk '/peers: tcp/ {print $3}' "$DIR/seedbox.out")
echo "collection: $FILES files, $((SIZE / 1000000)) MB; $LEECHERS leechers from $ADDR"

start=$(date +%s.%N)
pids=()
for i in $(seq "$LEECHERS"); do
  "$BIN/swarm" get "$MAGNET" --peer "$ADDR" -o "$DIR/out/$i" --listen 127.0.0.1:0 \
    --quic-listen 127.0.0.1:0 --state-dir "$DIR/out/state-$i" > "$DIR/out/$i.log" 2>&1 &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
end=$(date +%s.%N)
HWM=$(awk '/VmHWM/ {print $2}' /proc/$SB/status)
secs=$(echo "$end - $start" | bc)
bad=0
for i in $(seq "$LEECHERS"); do diff -rq "$DIR/lib" "$DIR/out/$i/lib" > /dev/null || bad=$((bad + 1)); done
printf "leechers %d  failed %d  wrong bytes %d\n" "$LEECHERS" "$fail" "$bad"
printf "wall %.2f s  aggregate %.1f MB/s  per leecher %.1f MB/s  seedbox peak RSS %.1f MiB\n" \
  "$secs" "$(echo "$LEECHERS * $SIZE / $secs / 1000000" | bc -l)" \
  "$(echo "$SIZE / $secs / 1000000" | bc -l)" "$(echo "$HWM / 1024" | bc -l)"
