#!/usr/bin/env bash
# Runs every compression method Slim has on all-MiniLM-L6-v2 and prints a
# Markdown table of size, mean cosine to the original, Lee-pairs Spearman and
# sentences/s, each figure from `slim eval --json` (50 held-out Lee documents,
# CPU backend). With --readme, also replaces the table between the
# `<!-- method-table -->` markers of README.md.
#
#   scripts/method_table.sh [--readme] [path/to/slim]
#
# Training steps (QAT_STEPS, FT_STEPS, DISTILL_STEPS) default to what fits
# about 10 minutes each on a 2-core machine; WORK (default /tmp/slim-methods)
# holds the folders, reused when present (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
readme=0
if [[ "${1:-}" == "--readme" ]]; then readme=1; shift; fi
slim="${1:-.build/release/slim}"
[[ -x "$slim" ]] || { echo "no slim binary at $slim: swift build -c release" >&2; exit 1; }
model="${MODEL:-$HOME/.cache/slim/models/all-MiniLM-L6-v2}"
work="${WORK:-/tmp/slim-methods}"
qat_steps="${QAT_STEPS:-200}" ft_steps="${FT_STEPS:-300}" distill_steps="${DISTILL_STEPS:-300}"
mkdir -p "$work"

# produce NAME COMMAND...: runs the command unless $work/NAME exists.
produce() {
  local name=$1; shift
  [[ -d "$work/$name" ]] && return 0
  echo "== $name: $*" >&2
  local start=$SECONDS
  "$@" -o "$work/$name" >/dev/null
  echo "$name $((SECONDS - start)) s" >> "$work/times.txt"
}

produce int8-rtn          "$slim" compress "$model" --quant int8 --backend cpu
produce int4-g128-rtn     "$slim" compress "$model" --quant int4-g128 --backend cpu
produce int4-g128-gptq    "$slim" compress "$model" --quant int4-g128 --method gptq --backend cpu
produce int4-g128-awq     "$slim" compress "$model" --quant int4-g128 --method awq --backend cpu
produce int4-g32-gptq     "$slim" compress "$model" --quant int4-g32 --method gptq --backend cpu
produce 2of4-magnitude    "$slim" prune "$model" --pattern 2:4 --method magnitude --backend cpu
produce 2of4-wanda        "$slim" prune "$model" --pattern 2:4 --method wanda --backend cpu
produce unstructured50-wanda "$slim" prune "$model" --pattern unstructured:0.5 --method wanda --backend cpu
produce heads25-wanda     "$slim" prune "$model" --pattern heads:0.25 --method wanda --backend cpu
produce neurons25-wanda   "$slim" prune "$model" --pattern neurons:0.25 --method wanda --backend cpu
produce svd50             "$slim" lowrank "$model" --keep 0.5
produce auto-0.2          "$slim" compress "$model" --target-size 0.2 --method auto --backend cpu
produce qat-int4-g128     "$slim" finetune "$work/int4-g128-gptq" --teacher "$model" --quant int4-g128 --learn-scales \
                         --loss embed-mse,cosine,hidden-mse --steps "$qat_steps" --batch 16 --seq 64 --lr 1e-4 --backend cpu
produce 2of4-wanda-finetuned "$slim" finetune "$work/2of4-wanda" --teacher "$model" --keep-mask \
                         --loss embed-mse,cosine,hidden-mse --steps "$ft_steps" --batch 16 --seq 64 --lr 1e-4 --backend cpu
produce distilled-3-layer "$slim" distill --teacher "$model" --student-layers 3 --steps "$distill_steps" --batch 16 --seq 64 \
                         --lr 1e-4 --backend cpu

row() {  # row NAME DESCRIPTION
  local json
  json=$("$slim" eval "$model" "$work/$1" --backend cpu --json 2>/dev/null)
  python3 - "$2" "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[2])
print(f"| {sys.argv[1]} | {d['bytes_compressed']:,} | {d['size_ratio']:.3f}x | {d['mean_cosine']:.5f} | "
      f"{d['spearman_compressed']:.4f} | {d['texts_per_s_compressed']:.0f} |")
PY
}

table=$(
  echo "| method | bytes | size | mean cosine | Lee Spearman | sentences/s |"
  echo "|---|---:|---:|---:|---:|---:|"
  row int8-rtn "int8 per channel, round to nearest"
  row int4-g128-rtn "int4 g128, round to nearest"
  row int4-g128-gptq "int4 g128, GPTQ"
  row int4-g128-awq "int4 g128, AWQ"
  row int4-g32-gptq "int4 g32, GPTQ"
  row qat-int4-g128 "int4 g128, GPTQ then QAT ($qat_steps steps, learned scales)"
  row auto-0.2 "auto mixed precision, budget 0.2x"
  row 2of4-magnitude "2:4 magnitude"
  row 2of4-wanda "2:4 Wanda"
  row 2of4-wanda-finetuned "2:4 Wanda, then sparse fine-tuning ($ft_steps steps)"
  row unstructured50-wanda "50% unstructured Wanda"
  row heads25-wanda "25% of heads removed (Wanda)"
  row neurons25-wanda "25% of MLP neurons removed (Wanda)"
  row svd50 "SVD low rank, half the parameters"
  row distilled-3-layer "3-layer student distilled ($distill_steps steps)"
)
echo "$table"
if [[ $readme == 1 ]]; then
  python3 - "$table" <<'PY'
import re, sys
text = open("README.md").read()
block = "<!-- method-table -->\n" + sys.argv[1] + "\n<!-- /method-table -->"
new, n = re.subn(r"<!-- method-table -->.*?<!-- /method-table -->", lambda m: block, text, flags=re.S)
if n != 1: sys.exit("README.md has no <!-- method-table --> ... <!-- /method-table --> block")
open("README.md", "w").write(new)
PY
fi
