#!/usr/bin/env bash
# Tests scripts/package.sh's .deb files:
#   - every package (amd64, arm64, armhf) holds what it should (dpkg-deb -c,
#     -f), with binaries of its architecture;
#   - the amd64 one is installed on this machine with apt, checked (the
#     `seedbox` user, the unit, `seedbox check --config /etc/seedbox.toml`,
#     the config kept as a conffile on remove), removed and purged.
#
#   bash scripts/package-test.sh
#
# Installing needs root, and is skipped (with a message) where a seedbox
# package or a `seedbox` user already exists: this test never touches a
# real installation. systemd need not run (CI is a container).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)

fail() { echo "package-test: FAILED: $*" >&2; exit 1; }

for pair in amd64:x86-64 arm64:aarch64 armhf:ARM; do
  arch=${pair%%:*} machine=${pair#*:}
  deb=target/debian/seedbox_${version}_${arch}.deb
  [ -f "$deb" ] || fail "$deb missing (scripts/package.sh)"
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb: Architecture"
  list=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $NF}')
  for want in "-rwxr-xr-x root/root ./usr/bin/seedbox" "-rwxr-xr-x root/root ./usr/bin/swarm" \
    "-rw-r--r-- root/root ./usr/lib/systemd/system/seedbox.service" \
    "-rw-r----- root/root ./etc/seedbox.toml" \
    "-rw-r--r-- root/root ./usr/share/doc/seedbox/README.md" \
    "-rw-r--r-- root/root ./usr/share/doc/seedbox/copyright" \
    "-rw-r--r-- root/root ./usr/share/doc/seedbox/examples/home-mirror.conf"; do
    grep -qxF -- "$want" <<<"$list" || fail "$deb lacks: $want"
  done
  x=$(mktemp -d)
  dpkg-deb -x "$deb" "$x"
  file_out=$(od -An -tx1 -j18 -N2 "$x/usr/bin/seedbox" | tr -d ' \n')
  case $arch in # ELF e_machine
    amd64) [ "$file_out" = 3e00 ] ;;
    arm64) [ "$file_out" = b700 ] ;;
    armhf) [ "$file_out" = 2800 ] ;;
  esac || fail "$deb: /usr/bin/seedbox is not a $machine binary (e_machine $file_out)"
  # the unit's Documentation= file is in the package
  doc=$(sed -n 's|^Documentation=file://||p' "$x/usr/lib/systemd/system/seedbox.service")
  [ -f "$x$doc" ] || fail "$deb: the unit names $doc, which is not installed"
  rm -rf "$x"
  echo "   ok: $deb ($(stat -c %s "$deb") bytes)"
done

deb=$PWD/target/debian/seedbox_${version}_amd64.deb
if [ "$(id -u)" != 0 ]; then
  echo "package-test: not root: skipping the install test"
  exit 0
fi
if dpkg-query -W -f='${Status}' seedbox 2>/dev/null | grep -q installed \
  || getent passwd seedbox >/dev/null || [ -e /var/lib/seedbox ]; then
  echo "package-test: a seedbox package, user or state is already here: skipping the install test"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive

timeout 600 apt-get install -y -q "$deb" >/dev/null || fail "apt install"
getent passwd seedbox | grep -q ':/var/lib/seedbox:/usr/sbin/nologin$' || fail "no seedbox system user"
[ "$(getent passwd seedbox | cut -d: -f3)" -lt 1000 ] || fail "seedbox is not a system user"
[ "$(stat -c '%U %a' /var/lib/seedbox)" = "seedbox 700" ] || fail "/var/lib/seedbox"
[ -f /usr/lib/systemd/system/seedbox.service ] || fail "no unit file"
# the config can hold the admin token: the daemon's group reads it, others not
[ "$(stat -c '%U %G %a' /etc/seedbox.toml)" = "root seedbox 640" ] || fail "/etc/seedbox.toml owner or mode"
if command -v systemd-analyze >/dev/null; then
  # offline syntax check: a misspelt key or a bad value is reported with
  # its line (and ignored by systemd, which would weaken the hardening)
  bad=$(systemd-analyze verify /usr/lib/systemd/system/seedbox.service 2>&1 \
    | grep -E 'seedbox\.service:[0-9]+:' || true)
  [ -z "$bad" ] || fail "systemd-analyze verify: $bad"
fi
grep -q '^ExecStart=/usr/bin/seedbox run --config /etc/seedbox.toml$' /usr/lib/systemd/system/seedbox.service \
  || fail "ExecStart"
seedbox check --config /etc/seedbox.toml || fail "seedbox check as root"
runuser -u seedbox -- seedbox check --config /etc/seedbox.toml >/dev/null || fail "seedbox check as seedbox"
seedbox check >/dev/null || fail "seedbox check with the default config path"
swarm --version >/dev/null || fail "swarm"
echo "   ok: installed"

echo '# edited by the librarian' >>/etc/seedbox.toml
timeout 600 apt-get remove -y -q seedbox >/dev/null || fail "apt remove"
[ ! -e /usr/bin/seedbox ] || fail "/usr/bin/seedbox left after remove"
grep -q 'edited by the librarian' /etc/seedbox.toml || fail "the edited config was not kept on remove"
getent passwd seedbox >/dev/null || fail "the user went on remove (only purge removes it)"
timeout 600 apt-get purge -y -q seedbox >/dev/null || fail "apt purge"
[ ! -e /etc/seedbox.toml ] || fail "/etc/seedbox.toml left after purge"
[ ! -e /usr/lib/systemd/system/seedbox.service ] || fail "unit left after purge"
getent passwd seedbox >/dev/null && fail "user left after purge"
getent group seedbox >/dev/null && fail "group left after purge"
[ -d /var/lib/seedbox ] || fail "purge deleted /var/lib/seedbox (the signing key lives there)"
rm -rf /var/lib/seedbox # this test made it (empty: nothing ran)
echo "   ok: removed and purged"
echo "package-test: ok"
