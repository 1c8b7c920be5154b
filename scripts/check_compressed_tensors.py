#!/usr/bin/env python3
"""Independent checks of Slim's compressed-tensors output (issue #17), with the venv's
compressed-tensors, transformers and torch:

    python scripts/check_compressed_tensors.py SLIM_FOLDER CT_FOLDER [--text FILE --ctx N --slim-nll JSON]

SLIM_FOLDER and CT_FOLDER: the same model compressed by `slim compress` twice, the same way
(round to nearest, or GPTQ with the same calibration: deterministic), once as Slim's folder and once
with `--output-format compressed-tensors`.

1. Weights (skipped when SLIM_FOLDER is "-"): the library's own decompression of every layer of CT_FOLDER (its compressor for the
   layer's format: unpack_from_int32 and dequantize, in the scale's dtype) equals Slim's dequantized
   weights, read here from SLIM_FOLDER's packed layout (QuantFormat's documentation: runs of 32
   weights, byte j = weight j | weight j+16 << 4; fp32 scales; u8 zeros) with each scale rounded to
   the type CT_FOLDER stores scales in, the product rounded to that type as the library's is:
   bit for bit, every element.
2. Logits: transformers' AutoModelForCausalLM loads CT_FOLDER (its compressed-tensors quantizer,
   decompressed to float32) and its per-token NLL over the first chunk of --text is compared with
   the NLL `slim perplexity CT_FOLDER --file TEXT --ctx N --chunks 1 --json` printed (--slim-nll),
   scored on the same positions (the second half of the chunk, as Slim and llama.cpp score).
"""
import argparse, json, os, sys
import torch
from safetensors import safe_open


def tensors(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(folder, name), "pt") as f:
                for k in f.keys():
                    out[k] = f.get_tensor(k)
    return out


def slim_levels(qdata, n, k):
    """Slim's int4 layout: in each run of 32 weights, byte j holds weight j (low nibble) and j + 16 (high)."""
    b = qdata.to(torch.int64).reshape(n, k // 32, 16)
    return torch.cat([b & 0xF, b >> 4], dim=-1).reshape(n, k)


def check_weights(slim, ct):
    from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
    from compressed_tensors.compressors.naive_quantized.base import IntQuantizationCompressor
    from compressed_tensors.quantization import QuantizationScheme
    cfg = json.load(open(os.path.join(ct, "config.json")))["quantization_config"]
    layers = json.load(open(os.path.join(slim, "config.json")))["quantization_config"]["layers"]
    S, C = tensors(slim), tensors(ct)
    groups = cfg["config_groups"]

    def scheme_of(prefix):
        for g in groups.values():
            if any(t == "Linear" or t == prefix for t in g["targets"]):
                return g
        raise SystemExit(f"no config group targets {prefix}")

    checked, worst = 0, 0.0
    for weight, fmt in sorted(layers.items()):
        prefix = weight[: -len(".weight")]
        if prefix == "lm_head" or "embed" in prefix:
            continue
        g = scheme_of(prefix)
        scheme = QuantizationScheme(targets=g["targets"], weights=g["weights"], input_activations=g.get("input_activations"))
        state = {k[len(prefix) + 1:]: v for k, v in C.items() if k.startswith(prefix + ".")}
        compressor = IntQuantizationCompressor if g["format"] == "int-quantized" else PackedQuantizationCompressor
        lib = compressor.decompress(state, scheme)["weight"]
        dtype = state["weight_scale"].dtype
        qdata, scales = S[weight + ".qdata"], S[weight + ".scales"].to(torch.float64)
        n = qdata.shape[0]
        if fmt == "int8":
            k = qdata.shape[1]
            q = qdata.view(torch.int8).to(torch.float64)
            s = scales.to(dtype).to(torch.float64).reshape(n, 1)
            mine = q * s
        else:
            k = qdata.shape[1] * 2
            gsize = int(fmt.split("-g")[1].split("-")[0])
            u = slim_levels(qdata, n, k).to(torch.float64).reshape(n, k // gsize, gsize)
            z = S[weight + ".zeros"].to(torch.float64).reshape(n, k // gsize, 1) if weight + ".zeros" in S else 8.0
            s = scales.to(dtype).to(torch.float64).reshape(n, k // gsize, 1)
            mine = ((u - z) * s).reshape(n, k)
        mine = mine.to(dtype)  # the library multiplies in the scale's type: one rounding of the exact product
        assert lib.shape == mine.shape, (prefix, lib.shape, mine.shape)
        diff = (lib.to(torch.float64) - mine.to(torch.float64)).abs().max().item()
        worst = max(worst, diff)
        if not torch.equal(lib, mine):
            raise SystemExit(f"{prefix}: the library's decompression differs from Slim's weights by up to {diff}")
        checked += 1
    print(f"weights: {checked} layers, the library's decompression equals Slim's dequantized weights bit for bit (max |diff| {worst})")


def check_logits(ct, text, ctx, slim_nll):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(ct, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(ct)
    ids = tok(open(text).read(), add_special_tokens=False).input_ids[:ctx]
    assert len(ids) == ctx, f"the text has only {len(ids)} tokens"
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].to(torch.float64)
    logp = torch.log_softmax(logits, -1)
    rows = range(ctx // 2, ctx - 1)
    theirs = [-logp[r, ids[r + 1]].item() for r in rows]
    ours = json.load(open(slim_nll))["token_nll"][: len(theirs)]
    deltas = [abs(a - b) for a, b in zip(ours, theirs)]
    mean = sum(deltas) / len(deltas)
    print(f"logits: transformers {type(model).__name__} on {ct}: {len(deltas)} positions, mean |dNLL| {mean:.2e}, worst {max(deltas):.2e}; "
          f"mean NLL transformers {sum(theirs) / len(theirs):.6f}, Slim {sum(ours) / len(ours):.6f}")
    # The decoder fixtures' tolerances (DecoderFamilyTests): 5e-3 per position, 1e-3 on average.
    assert max(deltas) <= 5e-3 and mean <= 1e-3, "outside the decoder families' tolerance"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("slim")
    p.add_argument("ct")
    p.add_argument("--text")
    p.add_argument("--ctx", type=int, default=64)
    p.add_argument("--slim-nll")
    a = p.parse_args()
    if a.slim != "-":  # "-": no Slim folder of the same compression (AWQ's o_proj differs): logits only
        check_weights(a.slim, a.ct)
    if a.text:
        check_logits(a.ct, a.text, a.ctx, a.slim_nll)


if __name__ == "__main__":
    main()
