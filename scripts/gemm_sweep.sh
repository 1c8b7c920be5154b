#!/bin/sh
# Provenance of cpu_gemm.c's block sizes: Slim's own fp32 tiles against OpenBLAS
# (one thread each, timed in thread CPU time so a loaded machine still compares
# fairly) over KC × MC × NC, at the shapes issue #19 names and distillation's.
# Also checks every level and transpose against a float64 product at odd sizes.
# Usage: scripts/gemm_sweep.sh [reps]   (needs clang and libopenblas-dev)
set -e
cd "$(dirname "$0")/../Sources/CPUKernels"
out=${TMPDIR:-/tmp}/slim-gemm-sweep
mkdir -p "$out"
for kc in 256 512 768; do for mc in 96 192 288; do for nc in 1024 2048; do
    clang -O3 -DSLIM_GEMM_SWEEP -DKC=$kc -DMC=$mc -DNC=$nc -I include -I . -o "$out/bench" \
        ../../scripts/gemm_tiles_bench.c cpu_gemm.c cpu_paths.c -lopenblas -lpthread -lm
    echo "KC $kc MC $mc NC $nc"; "$out/bench" "${1:-2}"
done; done; done
