#!/usr/bin/env bash
# Slim's Q4_K_M GGUF (RTN and GPTQ) beside llama.cpp's own llama-quantize
# Q4_K_M of the same source, without and with an importance matrix: file size
# and perplexity in llama.cpp and in Slim (a check for a report, not CI).
# LLAMA_BIN: a folder holding llama-quantize, llama-perplexity and llama-imatrix
# built from llama.cpp's own source (this script builds nothing).
#
#   LLAMA_BIN=/path/to/llama.cpp/build/bin scripts/compare_q4_k_m_with_llama_cpp.sh
#
# Perplexity: fortunes' wisdom, 8 chunks of 512 tokens. llama-perplexity and
# `slim perplexity` score the same positions (whole text tokenized, no BOS for
# SmolLM2, chunks run from scratch, the second half of each scored); Slim is
# run with f32 activations and with int8-block activations (llama.cpp's way of
# multiplying quantized weights: activations rounded to 8 bits per run of 32).
# Calibration (Slim's GPTQ and llama-imatrix alike): fortunes' literature.
set -euo pipefail
: "${LLAMA_BIN:?set LLAMA_BIN to the folder with llama-quantize, llama-perplexity and llama-imatrix}"
S=${S:-.build/release/slim}
G=${G:-$HOME/.cache/slim/models/SmolLM2-135M-Instruct.Q4_1.gguf}
TEXT=${TEXT:-/usr/share/games/fortunes/wisdom}
CALIB=${CALIB:-/usr/share/games/fortunes/literature}
OUT=${OUT:-/tmp/slim-q4km-check}
CHUNKS=${CHUNKS:-8}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$OUT"
export SLIM_THREAD_SPIN=0 LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

lscpu | grep -E 'Model name|^CPU\(s\)'
/usr/bin/time -f "slim q4_k_m gptq: %e s, %M KB peak" \
  $S compress "$G" -o "$OUT/slim-q4km-gptq.gguf" --quant q4_k_m --method gptq --calib "$CALIB" --overwrite
/usr/bin/time -f "slim q4_k_m rtn: %e s, %M KB peak" \
  $S compress "$G" -o "$OUT/slim-q4km-rtn.gguf" --quant q4_k_m --method rtn --overwrite
"$LLAMA_BIN/llama-quantize" --allow-requantize "$G" "$OUT/llama-q4km.gguf" Q4_K_M "$THREADS" > "$OUT/quantize.log" 2>&1
"$LLAMA_BIN/llama-imatrix" -m "$G" -f "$CALIB" -o "$OUT/imatrix.gguf" -c 256 -t "$THREADS" > "$OUT/imatrix.log" 2>&1
"$LLAMA_BIN/llama-quantize" --allow-requantize --imatrix "$OUT/imatrix.gguf" "$G" "$OUT/llama-q4km-imatrix.gguf" Q4_K_M "$THREADS" \
  > "$OUT/quantize-imatrix.log" 2>&1

ppl_slim() { $S perplexity "$1" --file "$TEXT" --ctx 512 --chunks "$CHUNKS" --activations "$2" --json | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])'; }
ppl_llama() { "$LLAMA_BIN/llama-perplexity" -m "$1" -f "$TEXT" -c 512 --chunks "$CHUNKS" -t "$THREADS" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'; }
echo "| file | bytes | llama-perplexity | Slim, f32 activations | Slim, int8-block |"
for f in "$G" "$OUT/slim-q4km-rtn.gguf" "$OUT/slim-q4km-gptq.gguf" "$OUT/llama-q4km.gguf" "$OUT/llama-q4km-imatrix.gguf"; do
  l=$(ppl_llama "$f"); a=$(ppl_slim "$f" f32); b=$(ppl_slim "$f" int8-block)
  python3 -c "import sys; l,a,b=map(float,sys.argv[2:5]); print('| %s | %s | %.4f | %.4f (%+.2f %%) | %.4f (%+.2f %%) |' % (sys.argv[1], sys.argv[5], l, a, 100*(a/l-1), b, 100*(b/l-1)))" \
    "$(basename "$f")" "$l" "$a" "$b" "$(stat -c %s "$f")"
done
