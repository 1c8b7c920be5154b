#!/bin/bash
# docs/scaling.md "Measured here": 1 rank x 2 threads against 2 ranks x 1 thread (mpirun --bind-to core)
# on this 2-core machine, interleaved (1, 2, 1 ...), for a distillation step (MiniLM teacher -> 3-layer
# student) and a GPTQ compression of SmolLM2-135M; checks the 2-rank model is byte-identical to 1 rank's.
# Usage: [ONLY=distill|gptq] scripts/measure_ranks.sh [SLIM] [ROUNDS]   (SLIM: a release build, default .build/release/slim)
# Prints one line per run; say the machine's load with the figures (uptime is printed before each run).
set -euo pipefail
S=${1:-.build/release/slim}
ROUNDS=${2:-1}
G=~/.cache/slim/models/SmolLM2-135M-Instruct.Q4_1.gguf
W=$(mktemp -d /tmp/measure-ranks.XXXXXX)
trap 'rm -rf "$W"' EXIT
export SLIM_THREAD_SPIN=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPI=(mpirun -np 2 --bind-to core --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
lscpu | grep -E "Model name|^CPU\(s\)"

distill() {  # $1: label, $2: steps, rest: launcher; prints the wall time
  local label=$1 steps=$2; shift 2
  local start=$(date +%s.%N)
  "$@" "$S" distill --student-layers 3 --batch 16 --seq 128 --steps "$steps" --warmup 0 -o "$W/distill-$label" --overwrite --backend cpu --json \
    > "$W/distill-$label.json"
  python3 -c "print($(date +%s.%N) - $start)"
}

# Seconds per step: (wall of 3 steps - wall of 0 steps, which loads and writes the same) / 3.
# (tokens/s in the JSON counts padded tokens, and the fortunes' texts are shorter than --seq.)
step() {  # $1: label, rest: launcher
  local label=$1; shift
  echo "load: $(uptime | sed 's/.*load average/load average/')"
  local zero=$(distill "$label" 0 "$@") three=$(distill "$label" 3 "$@")
  python3 - "$W/distill-$label.json" "$label" "$zero" "$three" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
zero, three = float(sys.argv[3]), float(sys.argv[4])
print(f"distill {sys.argv[2]}: ranks {r['ranks']}, {(three - zero) / 3:.1f} s/step (wall {zero:.0f} s for 0 steps, {three:.0f} s for 3), "
      f"final loss {r['final_loss']:.11f}, exchange {r['allreduce_bytes_per_step']} B/step")
PY
}

gptq() {  # $1: label, rest: launcher
  local label=$1; shift
  echo "load: $(uptime | sed 's/.*load average/load average/')"
  local start=$(date +%s.%N)
  "$@" "$S" compress "$G" -o "$W/gptq-$label" --overwrite --method gptq --quant int4-g32 --samples 16 --seq 128 --backend cpu > /dev/null
  local end=$(date +%s.%N)
  echo "gptq $label: $(python3 -c "print(f'{$end - $start:.0f} s')"), model.safetensors $(sha256sum "$W/gptq-$label/model.safetensors" | cut -c1-16)"
}

if [ "${ONLY:-}" != gptq ]; then
  for _ in $(seq "$ROUNDS"); do
    step one env
    step two "${MPI[@]}"
  done
  step one env
fi
if [ "${ONLY:-}" != distill ]; then
  for _ in $(seq "$ROUNDS"); do
    gptq one env
    gptq two "${MPI[@]}"
  done
  gptq one env
  cmp "$W/gptq-one/model.safetensors" "$W/gptq-two/model.safetensors" && echo "gptq: 2 ranks wrote 1 rank's bytes"
fi
