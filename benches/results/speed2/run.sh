#!/usr/bin/env bash
# Alternates two keel-bench-ab binaries (BENCHMARKS.md, "Instance pool"), three processes each
# per set: before, after, before, after, before, after. Each line of OUT is keel-bench-ab's
# JSON tagged with "bin" and "rep"; load.txt gets the load average before each process.
#   BEFORE=path AFTER=path run.sh OUT.jsonl
set -euo pipefail
out=$1; : > "$out"; : > load.txt
for rep in 1 2 3; do
  for bin in before after; do
    exe=$BEFORE; [[ $bin == after ]] && exe=$AFTER
    for set in transfer empty_call compute; do
      uptime >> load.txt
      "$exe" 21 "$set" | sed "s/^{/{\"bin\":\"$bin\",\"rep\":$rep,/" >> "$out"
    done
  done
done
uptime >> load.txt
