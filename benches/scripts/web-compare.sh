#!/usr/bin/env bash
# The seedbox's web page against nginx serving the same folder, side by
# side on loopback with wrk: a 50 KB file over one keep-alive connection
# (what a phone loading a page of covers does), the same over 50
# connections, and a large file.
#
#   benches/scripts/web-compare.sh [DIR]   (default /tmp/seedbox-web-bench)
#
#   SECS=5  SMALL_KB=50  LARGE_MB=256   (needs wrk; nginx is optional)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:-/tmp/seedbox-web-bench}
SECS=${SECS:-5}
SMALL_KB=${SMALL_KB:-50}
LARGE_MB=${LARGE_MB:-256}
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
(cd "$ROOT" && cargo build --release -q -p seedbox)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

rm -rf "$DIR"; mkdir -p "$DIR/lib"
head -c $((SMALL_KB * 1000)) /dev/urandom > "$DIR/lib/small.pdf"
head -c $((LARGE_MB * 1048576)) /dev/urandom > "$DIR/lib/large.pdf"
cat > "$DIR/seedbox.toml" <<TOML
state_dir = "$DIR/state"
[network]
listen = "127.0.0.1:0"
quic_listen = "127.0.0.1:0"
announce = false
[web]
listen = "127.0.0.1:0"
[[collection]]
name = "lib"
path = "$DIR/lib"
TOML
"$BIN/seedbox" run --config "$DIR/seedbox.toml" > "$DIR/seedbox.out" 2> "$DIR/seedbox.log" &
SB=$!
NG=
cleanup() {
  kill "$SB" 2> /dev/null || true
  if [ -n "$NG" ]; then kill "$NG" 2> /dev/null || true; fi
}
trap cleanup EXIT
for _ in $(seq 600); do grep -q "version 1 published" "$DIR/seedbox.log" && break; sleep 0.1; done
WEB=$(awk '/web page:/ {print $3; exit}' "$DIR/seedbox.out" | sed 's#/$##')
id() { printf '%s' "$1" | sha256sum | cut -c1-32; }
SB_SMALL="$WEB/c/lib/f/$(id small.pdf)"
SB_LARGE="$WEB/c/lib/f/$(id large.pdf)"
curl -sf -o /dev/null "$SB_SMALL" || { echo "seedbox does not serve $SB_SMALL"; exit 1; }

NGINX_PORT=
if command -v nginx > /dev/null || [ -x /usr/sbin/nginx ]; then
  NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$DIR/nginx"
  cat > "$DIR/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $DIR/nginx/error.log;
pid $DIR/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $DIR/nginx;
  proxy_temp_path $DIR/nginx;
  fastcgi_temp_path $DIR/nginx;
  uwsgi_temp_path $DIR/nginx;
  scgi_temp_path $DIR/nginx;
  server { listen 127.0.0.1:$NGINX_PORT; root $DIR/lib; }
}
CONF
  "$(command -v nginx || echo /usr/sbin/nginx)" -c "$DIR/nginx/nginx.conf" &
  NG=$!
  for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/small.pdf" && break; sleep 0.1; done
fi

# wrk's requests/s and transfer/s of one run.
run() { # connections url
  wrk -t1 -c"$1" -d"${SECS}s" --latency "$2" 2> /dev/null |
    awk '/Requests\/sec/ {r=$2} /Transfer\/sec/ {t=$2} /^ +99%/ {p=$2} END {printf "%10s req/s %10s/s  p99 %s", r, t, p}'
}
printf '%-34s %-44s %s\n' "case" "seedbox" "nginx"
for c in "small ${SMALL_KB} KB, 1 keep-alive conn|1|small.pdf" \
         "small ${SMALL_KB} KB, 50 conns|50|small.pdf" \
         "large ${LARGE_MB} MB, 1 conn|1|large.pdf"; do
  IFS='|' read -r label conns file <<< "$c"
  if [ "$file" = small.pdf ]; then url=$SB_SMALL; else url=$SB_LARGE; fi
  sb=$(run "$conns" "$url")
  ng=-
  if [ -n "$NGINX_PORT" ]; then ng=$(run "$conns" "http://127.0.0.1:$NGINX_PORT/$file"); fi
  printf '%-34s %-44s %s\n' "$label" "$sb" "$ng"
done
