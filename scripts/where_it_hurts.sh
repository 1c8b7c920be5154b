#!/usr/bin/env bash
# Issue 22's measurements: all-MiniLM-L6-v2 and SmolLM2-135M each compressed to
# int4-g128 by round-to-nearest and by GPTQ (default calibration texts), then
# `slim eval` against the original with every fortunes file as a slice,
# --robustness, and (SmolLM2) calibration error; prints Markdown tables of
# per-slice degradation, flagged slices, robustness and ECE. Each eval also
# records itself in the compressed folder's MODEL_CARD.md / model_card.json.
#
#   scripts/where_it_hurts.sh [path/to/slim]
#
# WORK (default /tmp/slim-where) holds the folders and the JSON, reused when
# present. MAX_PER_SLICE (default 40) bounds MiniLM's texts per slice; SmolLM2
# scores CHUNKS (default 1) chunk of CTX (default 256) tokens per slice, per
# perturbation and of `wisdom`; its ECE comes from a second run on 8 chunks of
# 512 tokens of `wisdom`.
set -euo pipefail
cd "$(dirname "$0")/.."
slim="${1:-.build/release/slim}"
[[ -x "$slim" ]] || { echo "no slim binary at $slim: swift build -c release --product slim" >&2; exit 1; }
minilm="$HOME/.cache/slim/models/all-MiniLM-L6-v2"
smol="$HOME/.cache/slim/models/SmolLM2-135M-Instruct.Q4_1.gguf"
fortunes="${FORTUNES:-$HOME/.cache/slim/data/fortunes}"
work="${WORK:-/tmp/slim-where}"
per_slice="${MAX_PER_SLICE:-40}" chunks="${CHUNKS:-1}" ctx="${CTX:-256}"
mkdir -p "$work"
export SLIM_THREAD_SPIN="${SLIM_THREAD_SPIN:-0}"

run() {  # run OUTPUT.json COMMAND...: runs the command unless OUTPUT.json exists
  local out=$1; shift
  [[ -s "$out" ]] && return 0
  echo "== $*" >&2
  "$@" > "$out.partial" && mv "$out.partial" "$out"
}

for method in rtn gptq; do
  [[ -d "$work/minilm-$method" ]] || "$slim" compress "$minilm" -o "$work/minilm-$method" --quant int4-g128 --method "$method" --backend cpu >/dev/null
  [[ -d "$work/smol-$method" ]] || "$slim" compress "$smol" -o "$work/smol-$method" --quant int4-g128 --method "$method" --backend cpu >/dev/null
  run "$work/minilm-$method.json" "$slim" eval "$minilm" "$work/minilm-$method" --slices "$fortunes" --max-per-slice "$per_slice" \
      --robustness --backend cpu --json
  run "$work/smol-$method.json" "$slim" eval "$smol" "$work/smol-$method" --data /usr/share/games/fortunes/wisdom --ctx "$ctx" \
      --chunks "$chunks" --slices "$fortunes" --robustness --backend cpu --json
  # ECE on more positions: 8 chunks of 512 of wisdom, as README's SmolLM2 method table (no slices).
  run "$work/smol-$method-ece.json" "$slim" eval "$smol" "$work/smol-$method" --data /usr/share/games/fortunes/wisdom --ctx 512 \
      --chunks 8 --backend cpu --json
done

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
r = {k: json.load(open(f"{w}/{k}.json")) for k in ["minilm-rtn", "minilm-gptq", "smol-rtn", "smol-gptq"]}
def rows(k): return {s["name"]: s for s in r[k]["slices"]}
def cell(s, key, fmt):
    if s.get("skipped"): return "skipped"
    return (fmt % s[key]) + (" **⚑**" if s["flagged"] else "")
print("| slice | MiniLM RTN 1−cos | MiniLM GPTQ 1−cos | SmolLM2 RTN KL | SmolLM2 GPTQ KL | SmolLM2 RTN top-1 | SmolLM2 GPTQ top-1 |")
print("|---|---:|---:|---:|---:|---:|---:|")
names = sorted(set(rows("minilm-rtn")) | set(rows("smol-rtn")))
for n in names:
    a, b, c, d = (rows(k).get(n, {"skipped": "absent"}) for k in ["minilm-rtn", "minilm-gptq", "smol-rtn", "smol-gptq"])
    top = lambda s: "" if s.get("skipped") else "%.1f%%" % (100 * s["top1_agreement"])
    print(f"| {n} | {cell(a, 'degradation', '%.4f')} | {cell(b, 'degradation', '%.4f')} | {cell(c, 'degradation', '%.3f')} | "
          f"{cell(d, 'degradation', '%.3f')} | {top(c)} | {top(d)} |")
print()
for k in r:
    o = r[k]
    flagged = [s["name"] for s in o["slices"] if s["flagged"]]
    skipped = [f'{s["name"]} ({s["skipped"]})' for s in o["slices"] if s.get("skipped")]
    if k.startswith("minilm"):
        pooled = [1 - s["mean_cosine"] for s in o["slices"] if not s.get("skipped")]
        head = f'mean cosine {o["mean_cosine"]:.5f} on the 50 Lee documents, Lee Spearman {o["spearman_original"]:.4f} → {o["spearman_compressed"]:.4f}'
    else:
        head = (f'wisdom, {o["tokens_scored"]} positions: PPL {o["ppl_original"]:.2f} → {o["ppl_compressed"]:.2f}, KL {o["kl_divergence_mean"]:.4f}, top-1 {100*o["top1_agreement"]:.1f}%, '
                f'ECE {o["calibration"]["ece_original"]:.4f} → {o["calibration"]["ece_compressed"]:.4f}')
    print(f"- {k}: {head}; flagged: {', '.join(flagged) or 'none'}; skipped: {', '.join(skipped) or 'none'}")
print()
print("| perturbation | MiniLM RTN cos clean → perturbed | MiniLM GPTQ | SmolLM2 RTN KL clean → perturbed | top-1 | SmolLM2 GPTQ KL | top-1 |")
print("|---|---|---|---|---|---|---|")
for i, p in enumerate(r["minilm-rtn"]["robustness"]):
    a, b = r["minilm-rtn"]["robustness"][i], r["minilm-gptq"]["robustness"][i]
    c, d = r["smol-rtn"]["robustness"][i], r["smol-gptq"]["robustness"][i]
    cos = lambda x: f'{x["clean"]["mean_cosine"]:.4f} → {x["perturbed"]["mean_cosine"]:.4f}'
    kl = lambda x: "skipped" if x.get("skipped") else f'{x["clean"]["kl_divergence_mean"]:.3f} → {x["perturbed"]["kl_divergence_mean"]:.3f}'
    t1 = lambda x: "" if x.get("skipped") else f'{100*x["clean"]["top1_agreement"]:.1f}% → {100*x["perturbed"]["top1_agreement"]:.1f}%'
    print(f'| {p["perturbation"]} | {cos(a)} | {cos(b)} | {kl(c)} | {t1(c)} | {kl(d)} | {t1(d)} |')
print()
e = {k: json.load(open(f"{w}/smol-{k}-ece.json")) for k in ["rtn", "gptq"]}
print(f'SmolLM2 ECE on wisdom ({e["rtn"]["tokens_scored"]} positions): original {e["rtn"]["calibration"]["ece_original"]:.4f}, '
      f'RTN {e["rtn"]["calibration"]["ece_compressed"]:.4f}, GPTQ {e["gptq"]["calibration"]["ece_compressed"]:.4f}')
PY
