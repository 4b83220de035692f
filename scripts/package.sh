#!/usr/bin/env bash
# Debian packages of the seedbox (with the `swarm` command) for amd64, arm64
# (Pi 3/4/5, 64-bit OS) and armhf (32-bit Raspberry Pi OS), made with
# dpkg-deb from a staged tree:
#
#   bash scripts/package.sh [amd64|arm64|armhf ...]     (default: all three)
#
# -> target/debian/seedbox_VERSION_ARCH.deb, holding
#   /usr/bin/seedbox, /usr/bin/swarm           the dist builds (stripped)
#   /usr/lib/systemd/system/seedbox.service    seedbox/dist/seedbox.service
#   /etc/seedbox.toml                          `seedbox init`'s config, its
#                                              example collection commented out
#   /usr/share/doc/seedbox/                    README, copyright, the unit's
#                                              drop-in example for /home
# and maintainer scripts that add a `seedbox` system user (postinst) and
# remove it on purge (postrm); the daemon's state in /var/lib/seedbox (its
# signing key) is never deleted. The ARM binaries come from scripts/cross.sh
# (run from here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
out=$ROOT/target/debian
mkdir -p "$out"

# The host build first: its `seedbox init` writes the default config.
cargo build --locked --profile dist -p swarm-cli -p seedbox --bin swarm --bin seedbox

stage_config() {
  # `seedbox init` names /srv/library/zines, which need not exist: comment
  # the example [[collection]] out so that the installed file is valid.
  local tmp
  tmp=$(mktemp -d)
  target/dist/seedbox init --config "$tmp/seedbox.toml" >/dev/null
  awk '
    /^\[\[collection\]\]$/ { inblock = 1; done = 1 }
    inblock && /^$/ { inblock = 0 }
    inblock { print "# " $0; next }
    { print }
    END { if (!done) exit 1 }
  ' "$tmp/seedbox.toml" >"$1"
  rm -rf "$tmp"
  grep -q '^# \[\[collection\]\]$' "$1"
}

for arch in "${arches[@]}"; do
  case $arch in
    amd64) triple= ;;
    arm64) triple=aarch64-unknown-linux-gnu ;;
    armhf) triple=armv7-unknown-linux-gnueabihf ;;
    *) echo "package: unknown architecture $arch" >&2; exit 1 ;;
  esac
  bin=target/dist
  if [ -n "$triple" ]; then
    bash scripts/cross.sh "$triple" # a no-op when up to date
    bin=target/$triple/dist
  fi

  st=$(mktemp -d)
  install -d "$st/DEBIAN" "$st/usr/bin" "$st/usr/lib/systemd/system" "$st/etc" \
    "$st/usr/share/doc/seedbox/examples"
  install -m 0755 "$bin/seedbox" "$bin/swarm" "$st/usr/bin/"
  install -m 0644 seedbox/dist/seedbox.service "$st/usr/lib/systemd/system/"
  install -m 0644 seedbox/dist/home-mirror.conf "$st/usr/share/doc/seedbox/examples/"
  stage_config "$st/etc/seedbox.toml"
  chmod 0640 "$st/etc/seedbox.toml" # group seedbox: postinst
  install -m 0644 README.md "$st/usr/share/doc/seedbox/README.md"
  cat >"$st/usr/share/doc/seedbox/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: swarm
Files: *
License: MIT OR Apache-2.0
EOF
  # the newest glibc symbol version the binaries use
  glibc=$(readelf --dyn-syms -W "$bin/seedbox" "$bin/swarm" | grep -o 'GLIBC_[0-9.]*' \
    | sed 's/GLIBC_//' | sort -uV | tail -n1)
  cat >"$st/DEBIAN/control" <<EOF
Package: seedbox
Version: $version
Architecture: $arch
Maintainer: swarm developers <swarm@example.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$st" | cut -f1)
Depends: libc6 (>= $glibc), libgcc-s1, passwd
Section: net
Priority: optional
Homepage: https://example.invalid/swarm
Description: share an infoshop's collections on the local network
 seedbox shares collection folders over BitTorrent on the LAN (announced
 with mDNS and BEP 14), publishes a signed version whenever a folder
 changes, mirrors other seedboxes' collections and serves a patron web page
 and an OPDS catalogue. Also holds the swarm command (share, get, verify).
 Edit /etc/seedbox.toml, then: systemctl enable --now seedbox
EOF
  echo /etc/seedbox.toml >"$st/DEBIAN/conffiles"
  install -m 0755 seedbox/dist/debian/postinst seedbox/dist/debian/prerm \
    seedbox/dist/debian/postrm "$st/DEBIAN/"
  deb=$out/seedbox_${version}_${arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$st" "$deb" >/dev/null
  rm -rf "$st"
  echo "package: $deb ($(stat -c %s "$deb") bytes)"
done
