#!/usr/bin/env bash
# The CPU backend beside its peers in the same run, two interleaved rounds.
#   scripts/cpu_vs_peers.sh [gemm|decode|all]   (default all)
# gemm: fp32 GEMM (the chosen engine, then SLIM_GEMM=own) beside numpy,
# attention dense L 2048 and window ±128 at L 8192 (forward, then forward +
# backward beside torch SDPA's autograd), and a distillation step beside
# ../shared/peers/torch_peers.py's.
# decode: memory bandwidth (scripts/copy_bandwidth.c) beside 4-bit weights read
# from memory (bench qgemm --matrices 8), a 64-token prompt product beside W8A8,
# and SmolLM2 Q4_1 prompt and generation beside llama.cpp's llama-bench
# (LLAMA_BIN: its build/bin folder). Run on a quiet machine (README, "CPU backend" figures).
cd "$(dirname "$0")/.."; S=${S:-.build/release/slim}; P=${PYTHON:-python3}  # a python with numpy and torch
what=${1:-all}
LLAMA_BIN=${LLAMA_BIN:-/tmp/ggufout/llama.cpp/build/bin}
MODEL=${MODEL:-$HOME/.cache/slim/models/SmolLM2-135M-Instruct.Q4_1.gguf}
export SLIM_THREAD_SPIN=0
lscpu | grep -E "Model name|^CPU\(s\)|Model:"
uptime
scratch=$(mktemp -d "${TMPDIR:-/tmp}/slim-peers.XXXXXX"); trap 'rm -rf "$scratch"' EXIT
if [ "$what" != gemm ]; then
  cc -O2 -march=native -pthread scripts/copy_bandwidth.c -o "$scratch/copy_bandwidth"
  # A prompt of about 510 tokens (SmolLM2's tokenizer), as llama-bench's -p 512 is of 512.
  head -c 1600 "$HOME/.cache/slim/data/fortunes/computers" > "$scratch/prompt.txt"
fi
decode_round() {
  "$scratch/copy_bandwidth" 2
  $S bench qgemm --backend cpu --format q4_0,q4_1,q4_k,q6_k --shape 1x4096x4096 --activations int8-block --matrices 8 --runs 9 2>&1 | grep qgemm_
  $S bench qgemm --backend cpu --format q4_1,q4_k --shape 64x4096x4096 --activations int8-block --runs 5 2>&1 | grep qgemm_
  $S bench qgemm --backend cpu --format w8a8 --shape 64x4096x4096 --runs 5 2>&1 | grep qgemm_
  # Generation as shipped: the worker threads spin between ops, as llama.cpp's do.
  env -u SLIM_THREAD_SPIN $S generate "$MODEL" --backend cpu "$(cat "$scratch/prompt.txt")" --max-tokens 64 --json 2>/dev/null |
    $P -c "import json,sys; d=json.load(sys.stdin); print('slim SmolLM2 Q4_1: prompt %d tokens %.1f tokens/s, generated %d tokens %.1f tokens/s' % (d['prompt_tokens'], d['prompt_tokens_per_s'], d['generated_tokens'], d['tokens_per_s']))"
  LD_LIBRARY_PATH="$LLAMA_BIN" "$LLAMA_BIN/llama-bench" -m "$MODEL" -p 512 -n 64 -t 2 -r ${LLAMA_REPS:-3} 2>/dev/null | grep -E "pp512|tg64"
}
for round in 1 2; do
  echo "== round $round"
  if [ "$what" != gemm ]; then decode_round; fi
  [ "$what" = decode ] && continue
  $S bench gemm --shape 2048x2048x2048,64x4096x4096 --backend cpu --runs 5 2>&1 | grep -E "GFLOP|cpu" | tail -2
  SLIM_GEMM=own $S bench gemm --shape 2048x2048x2048,64x4096x4096 --backend cpu --runs 5 2>&1 | grep -E "GFLOP|cpu" | tail -2
  $P - <<'PY'
import time, statistics, numpy as np, torch
def b(f, r=5):
    f(); ts=[]
    for _ in range(r):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    return statistics.median(ts)
for m,n,k in [(2048,2048,2048),(64,4096,4096)]:
    a=np.random.rand(m,k).astype(np.float32); bb=np.random.rand(k,n).astype(np.float32)
    t=b(lambda: a@bb); print(f"numpy {m}x{n}x{k}: {t*1e3:.2f} ms, {2*m*n*k/t/1e9:.1f} GFLOP/s")
import torch.nn.functional as F
torch.set_num_threads(2)
q,k,v=(torch.randn(1,8,2048,64) for _ in range(3))
with torch.no_grad():
    t=b(lambda: F.scaled_dot_product_attention(q,k,v), 3); print(f"torch SDPA dense L2048 h8 d64: {t*1e3:.1f} ms")
    L=8192; q,k,v=(torch.randn(1,8,L,64) for _ in range(3)); idx=torch.arange(L); mask=(idx[None,:]-idx[:,None]).abs()<=128
    t=b(lambda: F.scaled_dot_product_attention(q,k,v,attn_mask=mask), 2); print(f"torch SDPA window |i-j|<=128 L8192: {t*1e3:.1f} ms")
# Forward + backward (autograd), the figure beside slim's "forward + backward".
def fwd_bwd(L, mask=None, r=3):
    q,k,v=(torch.randn(1,8,L,64,requires_grad=True) for _ in range(3)); g=torch.randn(1,8,L,64)
    def step():
        F.scaled_dot_product_attention(q,k,v,attn_mask=mask).backward(g)
        q.grad=k.grad=v.grad=None
    return b(step, r)
print(f"torch SDPA dense L2048 h8 d64 forward+backward: {fwd_bwd(2048)*1e3:.1f} ms")
print(f"torch SDPA window |i-j|<=128 L8192 forward+backward: {fwd_bwd(L, mask, 2)*1e3:.1f} ms")
PY
  $S bench attention --layout dense --seq 2048 --heads 8 --dim 64 --backend cpu --runs 3 2>&1 | tail -1
  $S bench attention --layout window:128 --seq 8192 --heads 8 --dim 64 --backend cpu --runs 3 2>&1 | tail -1
  $S bench attention --layout dense --seq 2048 --heads 8 --dim 64 --backend cpu --runs 3 --backward 2>&1 | tail -1
  $S bench attention --layout window:128 --seq 8192 --heads 8 --dim 64 --backend cpu --runs 3 --backward 2>&1 | tail -1
  # The distillation step: torch_peers.py's (6-layer teacher, 3-layer student, b16 s128) and Slim's.
  $P - "${PEERS:-../shared/peers}/torch_peers.py" <<'PY'
import sys; src = open(sys.argv[1]).read()
exec(src[:src.index("rows = []")] + "rows = []\n" + src[src.index("# distillation step"):src.index("if len(sys.argv) > 1:")]
     + "print(f'torch distill step b16 s128: {rows[-1][2]*1e3:.0f} ms, {rows[-1][3]:.0f} tokens/s')")
PY
  $S bench distill --batch 16 --seq 128 --runs 3 --backend cpu 2>&1 | tail -1
done
