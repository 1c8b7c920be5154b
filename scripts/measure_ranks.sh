#!/bin/bash
# docs/scaling.md "Measured here": 1 rank x 2 threads against 2 ranks x 1 thread (mpirun --bind-to core)
# on this 2-core machine, interleaved (1, 2, 1 ...), for a distillation step (MiniLM teacher -> 3-layer
# student) and a GPTQ compression of SmolLM2-135M; checks the 2-rank model is byte-identical to 1 rank's.
# Usage: scripts/measure_ranks.sh [SLIM] [ROUNDS]   (SLIM: a release build, default .build/release/slim)
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

distill() {  # $1: label, rest: launcher
  local label=$1; shift
  echo "load: $(uptime | sed 's/.*load average/load average/')"
  local start=$(date +%s.%N)
  "$@" "$S" distill --student-layers 3 --batch 16 --seq 128 --steps 3 --warmup 0 -o "$W/distill-$label" --overwrite --backend cpu --json \
    > "$W/distill-$label.json"
  local end=$(date +%s.%N)
  python3 - "$W/distill-$label.json" "$label" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"distill {sys.argv[2]}: ranks {r['ranks']}, median {r['median_tokens_per_s']:.0f} tokens/s "
      f"({16 * 128 / r['median_tokens_per_s']:.1f} s/step), final loss {r['final_loss']:.11f}, "
      f"exchange {r['allreduce_bytes_per_step']} B/step, wall {float(sys.argv[4]) - float(sys.argv[3]):.0f} s for 3 steps and loading")
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

for _ in $(seq "$ROUNDS"); do
  distill one env
  distill two "${MPI[@]}"
done
distill one env
for _ in $(seq "$ROUNDS"); do
  gptq one env
  gptq two "${MPI[@]}"
done
cmp "$W/gptq-one/model.safetensors" "$W/gptq-two/model.safetensors" && echo "gptq: 2 ranks wrote 1 rank's bytes"
