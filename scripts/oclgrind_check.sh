#!/usr/bin/env bash
# Runs Slim's kernels on Oclgrind (a simulated OpenCL device that reports data
# races, out-of-bounds and uninitialised accesses) and fails on any report.
# Oclgrind's ICD is not registered in /etc/OpenCL/vendors by Debian's package,
# so OCL_ICD_VENDORS (ocl-icd) points at a folder holding only its .icd file:
# Oclgrind is then the only OpenCL device, and it reports type GPU, so the GPU
# tuning row runs (and, with --row all, every shipped row of Kernels/tuning.json). Needs `apt-get install oclgrind`. Slow: ~10^4 x PoCL.
# Usage: scripts/oclgrind_check.sh [path/to/slim]   (default .build/debug/slim)
set -u
slim=${1:-.build/debug/slim}
library=/usr/lib/oclgrind/liboclgrind-rt-icd.so
[ -f "$library" ] || { echo "oclgrind_check: $library missing (apt-get install oclgrind)" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/icd" && echo "$library" > "$work/icd/oclgrind.icd"
# -cl-opt-disable: Oclgrind 21.10's uninitialised-value plugin aborts the
# work-item ("Unsupported instruction: freeze", which left attention's outputs
# NaN, and made attention_delta's inputs look unwritten) on the `freeze` LLVM's
# optimiser puts on a division/remainder pair; the unoptimised program has the
# source's behaviour, which is what is being checked.
# SLIM_KERNEL_CACHE=0: a binary cached from another build would skip those options;
# SLIM_CACHE: no row a `slim tune` stored changes what runs.
export OCL_ICD_VENDORS="$work/icd" OCLGRIND_DATA_RACES=1 OCLGRIND_UNINITIALIZED=1 \
    OCLGRIND_BUILD_OPTIONS=-cl-opt-disable SLIM_KERNEL_CACHE=0 SLIM_CACHE="$work/cache"
failed=0
run() {  # run NAME ARGS...: the command's own failure or any Oclgrind report fails the check
    local name=$1; shift
    "$slim" "$@" > "$work/out" 2> "$work/err"; local status=$?
    local reports; reports=$(grep -c -E "uninitialized|Uninitialized|data race|Invalid (read|write)|out-of-bounds|divergence" "$work/err")
    echo "== $name: exit $status, $reports Oclgrind reports"
    grep -A1 "Kernel:" "$work/err" | grep -E "Kernel:|At line" | sort | uniq -c | sort -rn | head -20
    grep -E "^(  OK|  FAIL|opencl)" "$work/out"
    [ "$status" -eq 0 ] && [ "$reports" -eq 0 ] || failed=1
}
run "selftest --row all --quick" selftest --row all --quick --seed 1
run "bench qgemm 3x64x128" bench qgemm --format int4-g32 --shape 3x64x128 --backend opencl --warmup 0 --runs 5
run "bench qgemm 12x64x128" bench qgemm --format int4-g32 --shape 12x64x128 --backend opencl --warmup 0 --runs 5
run "bench attention causal 128x2 backward" bench attention --layout causal --seq 128 --heads 2 --backward --backend opencl --warmup 0 --runs 5
exit $failed
