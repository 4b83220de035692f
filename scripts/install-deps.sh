#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: the reference
# BitTorrent clients for interop tests, network tools for the LAN tests and
# cargo-fuzz. Safe to run again: it skips what is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(python3-libtorrent mktorrent aria2 transmission-cli transmission-daemon
          iproute2 iputils-ping tmux openssl procps chromium chromium-driver)
# a real UDP/HTTP tracker for the tracker interop tests (swarm/tests/interop/trackers.rs)
APT_PKGS+=(opentracker)
# Raspberry Pi builds (scripts/cross.sh, cross-smoke.sh, package.sh)
APT_PKGS+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf
           libc6-dev-armhf-cross qemu-user curl)
# OPDS feeds validated against the OPDS 1.2 RELAX NG schema (seedbox/tests/opds)
APT_PKGS+=(jing)
RUST_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

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
  for s in transmission-daemon opentracker; do
    systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
  done
fi

# QEMU before 8.1 truncates the mmap2 offsets of 32-bit guests to 32 bits
# (files past 4 GiB read wrong under qemu-arm); Debian 12 has 7.2, its
# backports 10.x.
qemu_too_old() {
  local v
  v=$(qemu-arm --version 2>/dev/null | sed -n '1s/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -z "$v" ] || { set -- $v; [ "$1" -lt 8 ] || { [ "$1" = 8 ] && [ "$2" -lt 1 ]; }; }
}
if qemu_too_old; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ "$(id -u)" = 0 ] && [ "$codename" = bookworm ]; then
    echo "install-deps: qemu-user from bookworm-backports (qemu-arm >= 8.1 for files past 4 GiB)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      >/etc/apt/sources.list.d/bookworm-backports.sources
    timeout 900 apt-get update -q >/dev/null
    timeout 1800 apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-user >/dev/null
  fi
  if qemu_too_old; then
    echo "install-deps: qemu-arm is older than 8.1; install a newer qemu-user" >&2
    exit 1
  fi
fi

installed_targets=$(rustup target list --installed)
for t in "${RUST_TARGETS[@]}"; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    echo "install-deps: rustup target add $t"
    timeout 900 rustup target add "$t"
  fi
done

if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "install-deps: cargo install cargo-fuzz"
  timeout 1800 cargo install cargo-fuzz --locked --quiet
fi
echo "install-deps: ok"
