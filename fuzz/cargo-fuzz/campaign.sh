#!/bin/sh
# Runs one libFuzzer campaign: ./campaign.sh <target> <seconds>
# One job, one worker, niced; seeds from the committed corpus (../corpus/<target>), grows
# corpus/<target> (git-ignored); crashes go to artifacts/<target>/; the log to
# artifacts/runs/<target>/fuzz-0.log. Build first with `cargo +nightly fuzz build -O -a -s none`.
set -eu
t="$1"
secs="$2"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/target/x86_64-unknown-linux-gnu/release/$t"
mkdir -p "$here/corpus/$t" "$here/artifacts/$t" "$here/artifacts/runs/$t"
cd "$here/artifacts/runs/$t"
exec nice -n 10 "$bin" "$here/corpus/$t" "$here/../corpus/$t" \
    -jobs=1 -workers=1 -max_total_time="$secs" -timeout=30 -rss_limit_mb=3072 \
    -artifact_prefix="$here/artifacts/$t/" -print_final_stats=1
