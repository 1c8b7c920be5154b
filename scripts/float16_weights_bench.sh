#!/usr/bin/env bash
# bf16/fp16 weights read as stored vs an fp32 copy (issue 19): the products
# alone, then a whole bf16 decoder's perplexity run, in the same run and
# interleaved, with the CPU and the load named.
#   scripts/float16_weights_bench.sh MODEL_FOLDER [TEXT] [ROUNDS]
# MODEL_FOLDER: a bf16 Hugging Face decoder, e.g. what
#   scripts/make_large_decoder.py OUT makes (TinyLlama-1.1B's shape).
# Needs a release build (swift build -c release; SLIM=path/to/slim for another). Prints one line per
# measurement: peak RSS from /usr/bin/time, tokens/s and perplexity from --json.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: $0 MODEL_FOLDER [TEXT] [ROUNDS]}"
text="${2:-/usr/share/games/fortunes/wisdom}"
rounds="${3:-2}"
slim="${SLIM:-.build/release/slim}"
[ -x "$slim" ] || { echo "float16_weights_bench: build first: swift build -c release" >&2; exit 2; }
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
hidden=$(python3 -c "import json,sys; c=json.load(open(sys.argv[1]+'/config.json')); print(c['hidden_size'], c['intermediate_size'])" "$model")
read -r h i <<<"$hidden"
shapes="1x${i}x${h},1x${h}x${i},8x${i}x${h},64x${i}x${h}"
for round in $(seq "$rounds"); do
    echo "== round $round: products (the 16-bit weights cycle through 2 matrices: as many bytes as one fp32 copy, from memory)"
    "$slim" bench gemm --shape "$shapes" --transpose-b --backend cpu --runs 9 | sed 's/^/fp32 copy  /'
    "$slim" bench qgemm --format bf16,f16 --shape "$shapes" --matrices 2 --backend cpu --runs 9 | sed 's/^/16-bit     /'
    echo "== round $round: perplexity, ctx 128, 2 chunks, fp32 activations"
    for weights in stored f32; do
        out=$( { /usr/bin/time -f "%M" "$slim" perplexity "$model" --file "$text" --ctx 128 --chunks 2 --activations f32 \
                 --weights "$weights" --backend cpu --json; } 2>&1 )
        rss_kb=$(tail -1 <<<"$out")
        python3 - "$weights" "$rss_kb" <<<"$out" <<'PY'
import json, sys
weights, rss = sys.argv[1], int(sys.argv[2])
text = sys.stdin.read()
o = json.loads(text[text.index("{"):text.rindex("}") + 1])
print(f"--weights {weights:6s} peak RSS {rss / 1048576:.2f} GiB  {o['tokens_per_s']:.1f} tokens/s  ppl {o['ppl']:.6f}")
PY
    done
done
