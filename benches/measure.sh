#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md's "Peers side by side" and "Scaling" sections:
# the criterion suites peers + scaling, the peak-memory probe, then the summary tables and
# plots (benches/report.py; plots need matplotlib).
# Usage: benches/measure.sh            (from anywhere; about 15 minutes on 2 cores)
# `cargo bench -p keel-benches` alone runs every suite (state, engine, harness included).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p keel-benches --bench peers --bench scaling 2>&1 | tee benches/results/criterion.log
cargo build --release -p keel-benches --bin keel-bench-mem --bin keel-bench-ab
mkdir -p benches/results
: > benches/results/mem.jsonl
: > benches/results/time-v.log
for store in memory rocksdb; do
  for keys in 10000 100000 1000000; do
    /usr/bin/time -v target/release/keel-bench-mem --store "$store" --keys "$keys" \
      --blocks 10 --block-size 1000 >> benches/results/mem.jsonl 2>> benches/results/time-v.log
  done
done
target/release/keel-bench-ab 21 > benches/results/ab.jsonl
python3 benches/report.py | tee benches/results/summary.md
