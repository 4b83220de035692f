#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need
# (scripts/install-deps.sh), builds everything, runs every test (unit,
# property, conformance, simulation, interop with real clients, network
# namespaces), the examples, and each fuzz target for a short bounded time.
#
#   SWARM_NO_INSTALL=1   skip the install step
#   SWARM_FUZZ_SECONDS=N seconds per fuzz target (default 10: 13 targets, so
#                        about 2.5 min of fuzzing after the fuzz build; 0 skips)
#   SWARM_NO_PI=1        skip the Raspberry Pi builds, packages and qemu tests
set -euo pipefail
cd "$(dirname "$0")/.."
# One cold build per run: incremental state would only cost disk and time.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

if [ "${SWARM_NO_INSTALL:-0}" != 1 ]; then
  bash scripts/install-deps.sh
fi

echo "== gates: format, lints, docs"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo "== build"
cargo build --workspace --all-targets --locked

echo "== tests"
cargo test --workspace --locked --no-fail-fast

echo "== examples"
cargo run --locked -q -p swarm --example seed_and_leech
# the embedding examples (README, library section); each checks its result
for ex in download_with_progress seed_from_memory lan_catalogue; do
  cargo run --locked -q -p swarm --example "$ex"
done
SWARM_SHARE_SECONDS=1 cargo run --locked -q -p swarm --example share_folder -- samples/zines

if [ "${SWARM_NO_PI:-0}" != 1 ]; then
  echo "== Raspberry Pi: cross builds, Debian packages, smoke tests under qemu-user"
  bash scripts/cross.sh
  bash scripts/package.sh
  bash scripts/package-test.sh
  bash scripts/cross-smoke.sh aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
fi

FUZZ_SECONDS=${SWARM_FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != 0 ] && [ -d fuzz ]; then
  echo "== fuzz (${FUZZ_SECONDS}s per target)"
  export RUSTC_BOOTSTRAP=1
  for t in $(cd fuzz && cargo fuzz list); do
    echo "-- fuzz $t"
    (cd fuzz && cargo fuzz run "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 3)
  done
fi
echo "== all tests passed"
