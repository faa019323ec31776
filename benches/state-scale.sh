#!/usr/bin/env bash
# Builds and runs the state scaling run of issue 13 (`keel-bench-scale`: a RocksDB `Store`
# and a raw RocksDB peer grown side by side, commit/block/proof/RSS/disk figures per size),
# writing benches/results/scale-LABEL.jsonl. Plot: python3 benches/plot_scale.py OUT.svg
# before=FILE.jsonl after=FILE.jsonl (docs/state-commit-scaling.svg in BENCHMARKS.md).
# A run to 10M keys takes about 30 minutes on a loaded 2-core machine and needs ~10 GB of
# free disk in TMPDIR (deleted afterwards).
#
# Release-like codegen without a release build of RocksDB's C++: the dev profile in its own
# target dir (target/calib; its first build compiles RocksDB once, about 12 minutes on an idle
# 2-core machine), with per-package opt-level overrides for the workspace crates and the hot
# dependencies (the approach of benches/gas-calibration.sh).
#
#   benches/state-scale.sh [--build-only] LABEL [SIZES]     (SIZES: 10000,100000,1000000)
#
# It also builds target/calib/debug/keel-bench-hash (the cost of one tree hash alone, as one
# blake3 compression, and in vector lanes).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_ONLY=0
if [[ ${1:-} == --build-only ]]; then BUILD_ONLY=1; shift; fi
LABEL=${1:-run}
SIZES=${2:-10000,100000,1000000}
FLAGS=()
for p in keel-engine keel-state keel-proof keel-benches keel-contracts keel-testkit wasmi wasmi_core \
    wasmi_ir wasmi_collections wasmparser blake3 sha2 lru hashbrown parity-scale-codec arrayvec spin \
    wasm-encoder; do
  for kv in opt-level=3 debug-assertions=false overflow-checks=false debug=false codegen-units=16; do
    FLAGS+=(--config "profile.dev.package.$p.$kv")
  done
done
export CARGO_TARGET_DIR=target/calib CARGO_INCREMENTAL=0
nice -n 5 cargo build -q "${FLAGS[@]}" -p keel-benches --no-default-features --bin keel-bench-scale \
  --bin keel-bench-hash
[[ $BUILD_ONLY == 1 ]] && exit 0
mkdir -p benches/results
DATA=$(mktemp -d "${TMPDIR:-/tmp}/keel-scale.XXXXXX")
trap 'rm -rf "$DATA"' EXIT
nice -n 10 target/calib/debug/keel-bench-scale --sizes "$SIZES" --dir "$DATA" \
  --json "benches/results/scale-$LABEL.jsonl"
