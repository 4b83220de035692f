#!/usr/bin/env bash
# Release builds of `swarm` and `seedbox` for the Raspberry Pi:
#   aarch64-unknown-linux-gnu      Pi 3/4/5 with a 64-bit OS
#   armv7-unknown-linux-gnueabihf  32-bit Raspberry Pi OS
#
#   bash scripts/cross.sh [TARGET...]     (default: both)
#
# Binaries land in target/TARGET/dist/{swarm,seedbox}: the `dist` profile
# (Cargo.toml) is the release build without debug info, stripped. Needs
# the rustup targets and Debian's cross linkers (gcc-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf; .cargo/config.toml names them), which
# scripts/install-deps.sh installs. scripts/cross-smoke.sh runs them under
# qemu-user; scripts/package.sh makes the .deb files from them.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

# one cargo run for all targets: it keeps both cores busy to the end
echo "-- cross: ${targets[*]}"
cargo build --locked --profile dist "${targets[@]/#/--target=}" -p swarm-cli -p seedbox --bin swarm --bin seedbox
for t in "${targets[@]}"; do
  for b in swarm seedbox; do
    printf '   %-30s %-8s %s bytes\n' "$t" "$b" "$(stat -c %s "target/$t/dist/$b")"
  done
done
