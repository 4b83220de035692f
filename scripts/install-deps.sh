#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: the reference
# BitTorrent clients for interop tests, network tools for the LAN tests and
# cargo-fuzz. Safe to run again: it skips what is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(python3-libtorrent mktorrent aria2 transmission-cli transmission-daemon
          iproute2 iputils-ping tmux openssl procps chromium chromium-driver)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${missing[*]}"
  timeout 900 apt-get update -q >/dev/null
  timeout 1800 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # the packaged daemons must not run on their own; tests start private instances
  for s in transmission-daemon; do
    systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
  done
fi

if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "install-deps: cargo install cargo-fuzz"
  timeout 1800 cargo install cargo-fuzz --locked --quiet
fi
echo "install-deps: ok"
