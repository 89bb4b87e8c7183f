#!/usr/bin/env bash
# Runs the reader fuzzer for a bounded time on a seed corpus of small images
# written by virt-provision and by qemu-img (compressed clusters, zero
# clusters, snapshots, backing files).  Any crash, leak or sanitizer report
# fails the test.  Usage: fuzz-seeds.sh FUZZER VIRT-PROVISION SECONDS
set -euo pipefail
fuzzer=$1 vp=$2 seconds=${3:-60}
command -v qemu-img >/dev/null || { echo "qemu-img is missing (package qemu-utils)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seeds=$work/seeds corpus=$work/corpus
mkdir -p "$seeds" "$corpus"

n=0
seed() { n=$((n + 1)); "$@" >/dev/null; }
for cs in 512 4K 64K 2M; do
    seed "$vp" image -q "$seeds/off-$cs.qcow2" --size 1M --cluster-size $cs --preallocation off
    seed "$vp" image -q "$seeds/meta-$cs.qcow2" --size 96K --cluster-size $cs
done
for bits in 1 2 4 8 32 64; do
    seed "$vp" image -q "$seeds/rb$bits.qcow2" --size 200K --cluster-size 512 --refcount-bits $bits
done
seed "$vp" image -q "$seeds/v2.qcow2" --size 100K --cluster-size 4K --compat 0.10
seed "$vp" image -q "$seeds/extl2.qcow2" --size 64K --cluster-size 16K --extended-l2 --lazy-refcounts
seed "$vp" image -q "$seeds/backing.qcow2" --size 1M --cluster-size 4K --preallocation off \
    --backing base.qcow2 --backing-format qcow2
seed qemu-img create -q -f qcow2 -o cluster_size=4k "$work/src.qcow2" 64K
seed qemu-io -c 'write -P 0x5a 0 8k' -c 'write -z 8k 4k' -c 'discard 12k 4k' "$work/src.qcow2"
cp "$work/src.qcow2" "$seeds/written.qcow2"
seed qemu-img snapshot -c snap1 "$seeds/written.qcow2"
seed qemu-img convert -c -O qcow2 -o cluster_size=4k "$work/src.qcow2" "$seeds/compressed.qcow2"
echo "fuzzing for ${seconds}s from $n seeds"

# -max_len keeps each run cheap; -rss_limit_mb catches unbounded allocation.
"$fuzzer" -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=1024 \
    -timeout=20 -print_final_stats=1 -artifact_prefix="$work/" \
    "$corpus" "$seeds" 2>&1 | tail -25
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "fuzzer found a problem; reproducer:"; ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null
    exit 1
fi
echo "no finding"
