#!/usr/bin/env bash
# Runs Slim's GGUF output in llama.cpp and compares it with Slim (a check for a
# report, not CI). LLAMA_BIN: a folder holding llama-perplexity and
# llama-embedding built from llama.cpp's own source (this script builds nothing).
#
#   LLAMA_BIN=/path/to/llama.cpp/build/bin scripts/check_gguf_with_llama_cpp.sh
#
# 1. SmolLM2-135M compressed by Slim to GGUF Q4_0 and Q8_0 (RTN): perplexity on
#    fortunes' wisdom, 8 chunks of 512 tokens, in llama.cpp and in Slim (which
#    measures as llama-perplexity does: whole text tokenized, chunks evaluated
#    from scratch, the second half of each scored).
# 2. all-MiniLM-L6-v2 written as GGUF (F16 export of the float folder, Q8_0
#    compress): mean-pooled, normalised embeddings in llama-embedding against
#    `slim embed` of the same folder/file's weights, cosine per sentence.
set -euo pipefail
: "${LLAMA_BIN:?set LLAMA_BIN to the folder with llama-perplexity and llama-embedding}"
S=${S:-.build/release/slim}
G=${G:-$HOME/.cache/slim/models/SmolLM2-135M-Instruct.Q4_1.gguf}
M=${M:-$HOME/.cache/slim/models/all-MiniLM-L6-v2}
TEXT=${TEXT:-/usr/share/games/fortunes/wisdom}
OUT=${OUT:-/tmp/slim-gguf-check}
CHUNKS=${CHUNKS:-8}
mkdir -p "$OUT"
export SLIM_THREAD_SPIN=0

lscpu | grep -E 'Model name|^CPU\(s\)'
for q in q4_0 q8_0; do
  $S compress "$G" -o "$OUT/smol-$q.gguf" --quant "$q" --overwrite
  slim_ppl=$($S perplexity "$OUT/smol-$q.gguf" --file "$TEXT" --ctx 512 --chunks "$CHUNKS" --activations f32 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])')
  slim_ppl_i8=$($S perplexity "$OUT/smol-$q.gguf" --file "$TEXT" --ctx 512 --chunks "$CHUNKS" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])')
  llama_ppl=$("$LLAMA_BIN/llama-perplexity" -m "$OUT/smol-$q.gguf" -f "$TEXT" -c 512 --chunks "$CHUNKS" -t 2 -b 512 2>&1 \
              | grep -oE 'Final estimate: PPL = [0-9.]+' | grep -oE '[0-9.]+$')
  python3 - "$q" "$slim_ppl" "$slim_ppl_i8" "$llama_ppl" <<'EOF'
import sys
q, slim, slim_i8, llama = sys.argv[1], *map(float, sys.argv[2:])
print(f"SmolLM2 {q}: llama.cpp PPL {llama:.4f}; Slim (fp32 activations) {slim:.4f} ({100 * (slim / llama - 1):+.3f} %), "
      f"Slim (int8-block activations, as llama.cpp) {slim_i8:.4f} ({100 * (slim_i8 / llama - 1):+.3f} %)")
EOF
done

SENTENCES=("A man is playing a guitar." "The quick brown fox jumps over the lazy dog." "Slim compresses transformer models.")
$S export "$M" -o "$OUT/minilm-f16.gguf" --overwrite
$S compress "$M" -o "$OUT/minilm-q8_0.gguf" --quant q8_0 --overwrite
# The same weights as a Slim folder (its tables Q8_0 too, as the GGUF path writes them), for `slim embed`.
$S compress "$M" -o "$OUT/minilm-q8_0" --quant q8_0 --overwrite \
  --layer embeddings.word_embeddings.weight=q8_0 --layer embeddings.position_embeddings.weight=q8_0
for variant in f16:"$M" q8_0:"$OUT/minilm-q8_0"; do
  name=${variant%%:*}; folder=${variant#*:}
  for s in "${SENTENCES[@]}"; do
    slim=$($S embed "$folder" "$s" --json)
    llama=$("$LLAMA_BIN/llama-embedding" -m "$OUT/minilm-$name.gguf" -p "$s" --pooling mean --embd-normalize 2 --embd-output-format json -t 2 2>/dev/null)
    python3 - "$name" "$s" "$slim" "$llama" <<'EOF'
import json, sys, math
name, s, slim, llama = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
a = slim[0]["embedding"]
b = llama["data"][0]["embedding"]
cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
print(f"MiniLM {name}: cosine {cos:.6f}  {s!r}")
EOF
  done
done
