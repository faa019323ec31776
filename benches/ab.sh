#!/usr/bin/env bash
# Builds and runs `keel-bench-ab` (interleaved A/B ratios, BENCHMARKS.md "Execution speed")
# with release codegen without compiling RocksDB a second time: like gas-calibration.sh, it
# builds in `target/calib` (seeded from the dev target dir once) with per-package overrides
# that give the workspace crates, wasmi and the peers (revm and its hot dependencies) the
# release settings (opt-level 3, no debug assertions, no overflow checks, 16 codegen units).
#
#   benches/ab.sh [--build-only] [ROUNDS [SET_PREFIX]]
#
# KEEL_AB_DEMO=1 also builds `keel` (target/calib/debug/keel) with these settings, the
# release-like peer of the README demo.
#
# KEEL_AB_FEATURES (e.g. "wasmi/indirect-dispatch") adds cargo features to the build, for the
# dispatch-mode comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ONLY=0
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --build-only) BUILD_ONLY=1 ;;
    *) ARGS+=("$arg") ;;
  esac
done
FLAGS=()
for p in keel-engine keel-state keel-proof keel-benches keel-contracts keel-testkit wasmi wasmi_core \
    wasmi_ir wasmi_collections wasmparser blake3 sha2 lru hashbrown parity-scale-codec arrayvec spin \
    wasm-encoder revm revm-bytecode revm-context revm-context-interface revm-database \
    revm-database-interface revm-handler revm-interpreter revm-precompile revm-primitives \
    revm-state alloy-primitives ruint keccak sha3 keel-cli; do
  for kv in opt-level=3 debug-assertions=false overflow-checks=false debug=false codegen-units=16; do
    FLAGS+=(--config "profile.dev.package.$p.$kv")
  done
done
if [[ ! -d target/calib/debug && -d target/debug ]]; then
  mkdir -p target/calib && cp -a target/debug target/calib/debug
fi
export CARGO_TARGET_DIR=target/calib CARGO_INCREMENTAL=0
FEAT=()
[[ -n "${KEEL_AB_FEATURES:-}" ]] && FEAT=(--features "$KEEL_AB_FEATURES")
# `--workspace` (with one target named) resolves features as the whole-workspace dev build that
# seeded the target dir did: with `-p keel-benches` alone, libc (a build dependency of bindgen)
# loses a feature, bindgen is rebuilt, and librocksdb-sys compiles RocksDB again.
# Caution for before/after builds: cargo names a workspace crate's artifacts independently of
# the checkout path, so another source tree built into this target dir can silently reuse this
# tree's crates; build "before" from this worktree at the old commit instead.
WS=(--workspace)
[[ -n "${KEEL_AB_FEATURES:-}" ]] && WS=(-p keel-benches)
nice -n 5 cargo build -q "${FLAGS[@]}" "${FEAT[@]}" "${WS[@]}" --bin keel-bench-ab
# The transfer loop that `perf record` profiles (BENCHMARKS.md, "Where a transfer's time goes").
nice -n 5 cargo build -q "${FLAGS[@]}" "${FEAT[@]}" "${WS[@]}" --example perf_transfer
# The `keel` binary with the same settings: the release-like peer of the README demo.
[[ -n "${KEEL_AB_DEMO:-}" ]] && nice -n 5 cargo build -q "${FLAGS[@]}" --workspace --bin keel
[[ $BUILD_ONLY == 1 ]] && exit 0
target/calib/debug/keel-bench-ab "${ARGS[@]}"
