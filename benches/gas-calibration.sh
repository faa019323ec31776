#!/usr/bin/env bash
# Builds and runs the gas calibration suite (`keel-calibrate`) and the adversarial bench
# (`keel-attacks`) of issue 10, writing their tables and JSON under benches/results/.
#
# The binaries want release codegen. `cargo run --release` gives that but compiles RocksDB's
# C++ a second time (10-17 min on 2 cores). This script instead builds in a copy of the dev
# target dir (`target/calib`, seeded from `target` once) with per-package overrides that give
# the workspace crates and the hot dependencies (wasmi, wasmparser, hashes, SCALE, lru) the
# release settings (opt-level 3, no debug assertions, no overflow checks, 16 codegen units, no
# incremental): RocksDB keeps its dev build (C++ at -O2), so nothing of it is rebuilt.
#
#   benches/gas-calibration.sh [--quick] [--build-only] [LABEL]
#
# LABEL prefixes the output files: benches/results/{calib,attacks,rss}-LABEL-{full,quick}.*
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=()
LABEL=""
BUILD_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=(--quick) ;;
    --build-only) BUILD_ONLY=1 ;;
    -*) echo "usage: $0 [--quick] [--build-only] [LABEL]" >&2; exit 2 ;;
    *) LABEL="$arg" ;;
  esac
done
FLAGS=()
for p in keel-engine keel-state keel-proof keel-benches keel-contracts keel-testkit wasmi wasmi_core \
    wasmi_ir wasmi_collections wasmparser blake3 sha2 lru hashbrown parity-scale-codec arrayvec spin \
    wasm-encoder; do
  for kv in opt-level=3 debug-assertions=false overflow-checks=false debug=false codegen-units=16; do
    FLAGS+=(--config "profile.dev.package.$p.$kv")
  done
done
if [[ ! -d target/calib/debug && -d target/debug ]]; then
  mkdir -p target/calib && cp -a target/debug target/calib/debug
fi
export CARGO_TARGET_DIR=target/calib CARGO_INCREMENTAL=0
nice -n 5 cargo build -q "${FLAGS[@]}" -p keel-benches --no-default-features \
  --bin keel-calibrate --bin keel-attacks
[[ $BUILD_ONLY == 1 ]] && exit 0
mkdir -p benches/results
mode=full; [[ ${#QUICK[@]} -gt 0 ]] && mode=quick
suffix="${LABEL:+$LABEL-}$mode"
target/calib/debug/keel-calibrate "${QUICK[@]}" --json "benches/results/calib-$suffix.json" \
  | tee "benches/results/calib-$suffix.txt"
target/calib/debug/keel-attacks "${QUICK[@]}" --json "benches/results/attacks-$suffix.json" \
  | tee "benches/results/attacks-$suffix.txt"
n=10000; [[ $mode == quick ]] && n=500
target/calib/debug/keel-attacks --no-attacks --rss "$n" --json "benches/results/rss-$suffix.json" \
  | tee "benches/results/rss-$suffix.txt"
