#!/usr/bin/env bash
# Builds and runs the determinism check (engine/examples/determinism.rs: engine + MemStore, no
# RocksDB) for other architectures and compares its output with the digest pinned in
# engine/tests/determinism.digest. Targets: the host (x86_64; the same build the determinism
# test uses), i686 (32-bit pointers, run natively), aarch64 and s390x (big-endian), both under
# qemu-user. Prerequisites: `bash scripts/setup.sh --cross`.
#
#   bash scripts/cross-determinism.sh [TARGET...]     # default: host and the three others
#
# Exits non-zero if any target fails to build, fails to run or prints another digest.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned_file=engine/tests/determinism.digest
pinned=$(cat "$pinned_file")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(host i686-unknown-linux-gnu aarch64-unknown-linux-gnu s390x-unknown-linux-gnu)
fi
# The same target dir as engine/tests/determinism.rs, so host build scripts are shared.
export CARGO_TARGET_DIR=target/keel-determinism

echo "cross: pinned $(grep '^digest ' "$pinned_file")"
status=0
for target in "${targets[@]}"; do
  t0=$(date +%s)
  target_args=(--target "$target")
  case "$target" in
    host) gcc=""; runner=""; target_args=(); target="host ($(rustc -vV | sed -n 's/^host: //p'))" ;;
    i686-unknown-linux-gnu) gcc=i686-linux-gnu-gcc; runner="" ;;
    aarch64-unknown-linux-gnu) gcc=aarch64-linux-gnu-gcc; runner="qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
    s390x-unknown-linux-gnu) gcc=s390x-linux-gnu-gcc; runner="qemu-s390x -L /usr/s390x-linux-gnu" ;;
    *) echo "cross: unknown target $target" >&2; exit 2 ;;
  esac
  if [ -n "$gcc" ]; then
    upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
    lower=$(echo "$target" | tr '-' '_')
    export "CARGO_TARGET_${upper}_LINKER=$gcc" "CC_${lower}=$gcc"
  fi
  if [ -n "$runner" ]; then export "CARGO_TARGET_${upper}_RUNNER=$runner"; fi
  if ! out=$(cargo run -q -p keel-engine --example determinism "${target_args[@]}" 2>&1); then
    echo "cross: $target FAILED to build or run:"; echo "$out" | tail -20
    status=1
    continue
  fi
  digest=$(echo "$out" | grep '^digest ' || true)
  echo "cross: $target $digest ($(( $(date +%s) - t0 ))s)"
  if [ "$out" = "$pinned" ]; then
    echo "cross: $target matches the pinned digest ($pinned_file)"
  else
    echo "cross: $target DIFFERS from $pinned_file:"
    diff <(echo "$pinned") <(echo "$out") || true
    status=1
  fi
done
exit $status
