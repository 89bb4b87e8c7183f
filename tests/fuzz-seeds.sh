#!/usr/bin/env bash
# Runs the reader fuzzer for a bounded time on a seed corpus of small images
# written by virt-provision and by qemu-img (compressed clusters, zero
# clusters and subclusters, extended L2, snapshots, backing files).  Any
# crash, leak, timeout or sanitizer report fails the test.
#
# Usage: fuzz-seeds.sh FUZZER VIRT-PROVISION SECONDS [ARTIFACT-DIR]
#
# A finding is kept in ARTIFACT-DIR ($VP_FUZZ_ARTIFACTS when set, else
# ./fuzz-artifacts), which the script never cleans: each run's files carry
# the run's own prefix, the full fuzzer log among them, and the script
# prints the command that reproduces each one.  Only the seeds and the
# grown corpus are temporary.
set -euo pipefail
fuzzer=$(realpath "$1") vp=$2 seconds=${3:-60}
artifacts=${VP_FUZZ_ARTIFACTS:-${4:-$PWD/fuzz-artifacts}}
for tool in qemu-img qemu-io; do
    command -v $tool >/dev/null || { echo "$tool is missing (package qemu-utils)"; exit 1; }
done
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)
run=$artifacts/$(date +%Y%m%d-%H%M%S)-$$
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seeds=$work/seeds corpus=$work/corpus
mkdir -p "$seeds" "$corpus" "$work/tmp"

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
# Backing names the harness provides next to the input (fuzz-reader.c).
seed "$vp" image -q "$seeds/backing.qcow2" --size 1M --cluster-size 4K --preallocation off \
    --backing base.qcow2 --backing-format qcow2
seed "$vp" image -q "$seeds/backing-raw.qcow2" --size 1M --cluster-size 4K --preallocation off \
    --backing base.raw --backing-format raw
# Data, zero clusters and discarded clusters, with 512-byte, 4 KiB and
# 64 KiB clusters: the compressed descriptor's layout depends on the size.
for cs in 512 4k 64k; do
    src=$work/src-$cs.qcow2
    seed qemu-img create -q -f qcow2 -o cluster_size=$cs "$src" 256K
    seed qemu-io -c 'write -P 0x5a 0 8k' -c 'write -z 8k 4k' -c 'discard 12k 4k' \
        -c 'write -P 0xa5 128k 64k' "$src"
    cp "$src" "$seeds/written-$cs.qcow2"
    seed qemu-img convert -c -O qcow2 -o cluster_size=$cs "$src" "$seeds/compressed-$cs.qcow2"
done
seed qemu-img snapshot -c snap1 "$seeds/written-4k.qcow2"
seed qemu-img convert -c -O qcow2 -o cluster_size=4k,compression_type=zstd \
    "$work/src-4k.qcow2" "$seeds/zstd.qcow2"
# Extended L2: allocated, zero and unallocated subclusters in one cluster,
# and compressed clusters in an extended-L2 image.
seed qemu-img create -q -f qcow2 -o cluster_size=32k,extended_l2=on "$seeds/extl2-sub.qcow2" 256K
seed qemu-io -c 'write -P 0x11 0 1k' -c 'write -z 2k 1k' -c 'write -P 0x22 40k 3k' \
    -c 'write -z 64k 32k' "$seeds/extl2-sub.qcow2"
seed qemu-img convert -c -O qcow2 -o cluster_size=32k,extended_l2=on \
    "$work/src-4k.qcow2" "$seeds/extl2-compressed.qcow2"
# An overlay with its own data over each backing file the harness
# provides, and one over a backing file that is missing.  The names are set
# afterwards (rebase -u), so that qemu-io never looks for the files here.
for base in base.qcow2:qcow2 base.raw:raw missing.qcow2:qcow2; do
    name=${base%:*} format=${base#*:}
    overlay=$seeds/overlay-$name.qcow2
    seed qemu-img create -q -f qcow2 -o cluster_size=4k "$overlay" 1M
    seed qemu-io -c 'write -P 0x33 4k 4k' -c 'write -z 64k 4k' "$overlay"
    seed qemu-img rebase -u -b "$name" -F "$format" "$overlay"
done
echo "fuzzing for ${seconds}s from $n seeds; findings go to $run-*"

# -max_len keeps each run cheap; -rss_limit_mb catches unbounded allocation.
# The whole log is kept: the sanitizer report is at its top, the statistics
# at its end.
# The harness's own temporary files go with the rest, even after a crash.
status=0
TMPDIR=$work/tmp "$fuzzer" -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=1024 \
    -timeout=20 -print_final_stats=1 -artifact_prefix="$run-" \
    "$corpus" "$seeds" >"$run-fuzz.log" 2>&1 || status=$?
shopt -s nullglob
findings=("$run"-crash-* "$run"-leak-* "$run"-timeout-* "$run"-oom-* "$run"-slow-unit-*)
if [ "$status" -eq 0 ] && [ ${#findings[@]} -eq 0 ]; then
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$run-fuzz.log" || true
    tail -5 "$run-fuzz.log"
    rm -f "$run-fuzz.log"
    echo "no finding"
    exit 0
fi
tail -60 "$run-fuzz.log"
echo "fuzzer exited with status $status; full log: $run-fuzz.log"
if [ ${#findings[@]} -eq 0 ]; then
    echo "no reproducer was written: see the log"
fi
for f in "${findings[@]}"; do
    echo "reproducer: $f"
    echo "reproduce with: $fuzzer $f"
done
exit 1
