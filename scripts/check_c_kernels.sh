#!/usr/bin/env bash
# Compiles Slim's C kernels (Sources/CPUKernels) with their harness
# (Tests/CKernels) and runs it: every kernel at every instruction-set level
# the CPU has, against float64 references, on one printed seed.
#   scripts/check_c_kernels.sh native    this machine's compiler and CPU
#   scripts/check_c_kernels.sh aarch64   Debian's aarch64 cross compiler, run
#       under qemu-user twice: CPU model `max` (NEON with the dot-product
#       extension) and `cortex-a53` (NEON without it: the fallback), plus a
#       compile-only pass with clang for aarch64 (the compiler SwiftPM uses)
# SLIM_SEED=<n> replays a run. Exits non-zero on any failure, or when a tool
# is missing (naming the apt packages; scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-native}"
out="$(mktemp -d "${TMPDIR:-/tmp}/slim-ckernels.XXXXXX")"
trap 'rm -rf "$out"' EXIT
kernels=(Sources/CPUKernels/*.c)
harness=(Tests/CKernels/*.c)
flags=(-std=gnu11 -Wall -Wno-unused-function -ISources/CPUKernels/include -ISources/CPUKernels -pthread)

# build CC [extra flags...]: the kernels at -O3 as Package.swift builds them,
# the harness at -O1 (GCC 12's aarch64 vectorizer crashes on one of its loops).
build() {
    local cc="$1"; shift
    local objects=()
    for f in "${kernels[@]}" "${harness[@]}"; do
        local opt=-O3
        [[ "$f" == Tests/* ]] && opt="-O1 -Werror"
        "$cc" "${flags[@]}" $opt "$@" -c "$f" -o "$out/$(basename "$f").o"
        objects+=("$out/$(basename "$f").o")
    done
    "$cc" -pthread "${objects[@]}" -o "$out/check_kernels" -lm
}
seed="${SLIM_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"

need() {  # tool, apt package
    command -v "$1" >/dev/null || { echo "check_c_kernels: $1 not found: apt-get install $2 (scripts/setup.sh installs it)" >&2; exit 2; }
}

case "$target" in
native)
    cc="${CC:-cc}"
    need "$cc" gcc
    build "$cc"
    echo "== native ($(uname -m))"
    "$out/check_kernels" "$seed"
    ;;
aarch64)
    need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
    need qemu-aarch64 qemu-user
    build aarch64-linux-gnu-gcc
    # SwiftPM compiles the package with the Swift toolchain's clang: its target
    # attributes and intrinsics must build for aarch64 too (compile only: no
    # linker needed). clang 15 and older gate the sdot intrinsic on -march.
    clang="$(dirname "$(command -v swift 2>/dev/null || echo /nonexistent/swift)")/clang"
    [ -x "$clang" ] || clang="$(command -v clang || true)"
    if [ -n "$clang" ]; then
        for f in "${kernels[@]}"; do
            "$clang" --target=aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include "${flags[@]}" -O3 -c "$f" -o "$out/clang-$(basename "$f").o"
        done
        echo "== $("$clang" --version | head -1) --target=aarch64-linux-gnu: the kernels compile"
    else
        echo "check_c_kernels: no clang found (the Swift toolchain's, or apt-get install clang-16)" >&2
        exit 2
    fi
    status=0
    for cpu in max cortex-a53; do
        echo "== aarch64 under qemu, -cpu $cpu"
        qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$out/check_kernels" "$seed" || status=1
    done
    exit $status
    ;;
*)
    echo "usage: $0 native|aarch64" >&2
    exit 2
    ;;
esac
