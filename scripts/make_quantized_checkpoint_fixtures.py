#!/usr/bin/env python3
"""Builds Tests/Fixtures/quantized/NAME/: tiny Llama checkpoints quantized by other tools' formats,
for Slim's importers (issue #17, "In"). Run with the project's venv (torch, transformers,
compressed-tensors, safetensors):

    python scripts/make_quantized_checkpoint_fixtures.py [OUT]

One random-initialised LlamaForCausalLM (1 block, hidden 128, intermediate 128, 4 query / 2 KV
heads, tied embeddings, the decoder fixtures' 320-token tokenizer), its seven linears quantized
round-to-nearest and stored:
- ct-int4-g128, ct-int4-g32-asym, ct-w8a8: by the compressed-tensors library itself
  (apply_quantization_config, its calculate_qparams on each group's min/max, ModelCompressor
  compress_model / save_pretrained / update_config), bf16 model;
- gptq-g32-asym (checkpoint_format gptq, v1: zero points stored less one, desc_act false, config in
  config.json) and gptq-g64-actorder (desc_act true, a random column permutation in g_idx, sym, config
  in AutoGPTQ's quantize_config.json only): packed here from AutoGPTQ's definition (qweight [K/8, N]
  along K, qzeros [G, N/8] along N, scales fp16 [G, N], g_idx [K]), fp16 model;
- awq-g64: AutoAWQ's GEMM packing (qweight [K, N/8] in the order 0,2,4,6,1,3,5,7; qzeros
  [G, N/8]; scales fp16 [G, N]), fp16 model.
reference.safetensors: `token_ids` and `logits` [T, 320] of a float64 forward pass
(transformers' LlamaForCausalLM in float64, eager attention) over the weights each format's stored
numbers stand for, dequantized here in float64 from the saved files (the library's unpack_from_int32
for compressed-tensors; the format definitions above for GPTQ/AWQ).
"""
import json, os, shutil, sys
import torch
from safetensors.torch import save_file, load_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = os.path.join(ROOT, "Tests/Fixtures/decoders/llama3")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/Fixtures/quantized")
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def config(dtype):
    return LlamaConfig(vocab_size=320, hidden_size=128, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=32, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
                       tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, dtype=dtype, attn_implementation="eager")


def base_model(dtype, seed=17):
    torch.manual_seed(seed)
    m = LlamaForCausalLM(config(dtype)).to(dtype)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
    return m.eval()


def token_ids():
    ids = json.load(open(os.path.join(TOKENIZER, "reference.json")))["token_ids"]
    return ids[:8]


def copy_tokenizer(folder):
    """Only ct-int4-g128 carries the tokenizer (what `slim perplexity` and transformers need); the
    others are read as weights only, which keeps the fixtures under 1 MB together."""
    if os.path.basename(folder) != "ct-int4-g128":
        return
    for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
        shutil.copy(os.path.join(TOKENIZER, f), folder)


def reference(folder, float_tensors, linears):
    """Logits of a float64 forward pass: `float_tensors` as stored, `linears` (prefix -> float64 [N, K])."""
    m = LlamaForCausalLM(config(torch.float64)).to(torch.float64).eval()
    state = {k: v.to(torch.float64) for k, v in float_tensors.items()}
    state.update({p + ".weight": w for p, w in linears.items()})
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    m.tie_weights()
    ids = token_ids()
    with torch.no_grad():
        logits = m(torch.tensor([ids])).logits[0]
    save_file({"token_ids": torch.tensor(ids, dtype=torch.int64), "logits": logits.to(torch.float32).contiguous()},
              os.path.join(folder, "reference.safetensors"))


def fresh(name):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


# ---------- compressed-tensors, by the library ----------
def compressed_tensors_fixture(name, weights, activations=None):
    from compressed_tensors.quantization import QuantizationConfig, QuantizationScheme, QuantizationArgs, apply_quantization_config
    from compressed_tensors.quantization.utils import calculate_qparams
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32

    folder = fresh(name)
    m = base_model(torch.bfloat16)
    args = QuantizationArgs(**weights)
    scheme = QuantizationScheme(targets=["Linear"], weights=args,
                                input_activations=QuantizationArgs(**activations) if activations else None)
    qc = QuantizationConfig(config_groups={"group_0": scheme}, ignore=["lm_head"])
    apply_quantization_config(m, qc)
    with torch.no_grad():
        for prefix in LINEARS:
            mod = m.model.layers[0].get_submodule(prefix)
            w = mod.weight.float()
            n, k = w.shape
            g = args.group_size if args.strategy == "group" else k
            blocks = w.reshape(n, k // g, g)
            scale, zp = calculate_qparams(blocks.amin(-1), blocks.amax(-1), args)
            mod.weight_scale.copy_(scale.reshape(mod.weight_scale.shape).to(mod.weight_scale.dtype))
            if hasattr(mod, "weight_zero_point"):
                mod.weight_zero_point.copy_(zp.reshape(mod.weight_zero_point.shape).round().to(mod.weight_zero_point.dtype))
    compressor = ModelCompressor.from_pretrained_model(m)
    compressor.compress_model(m)
    state = {k: v.contiguous() for k, v in m.state_dict().items() if k != "lm_head.weight"}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    m.config.save_pretrained(folder)
    compressor.update_config(folder)
    copy_tokenizer(folder)
    # The reference: the stored numbers, dequantized in float64.
    stored = load_file(os.path.join(folder, "model.safetensors"))
    linears, floats = {}, {}
    for key, v in stored.items():
        if v.dtype.is_floating_point and not any(key.startswith("model.layers.0." + p + ".") for p in LINEARS):
            floats[key] = v
    for p in LINEARS:
        pre = "model.layers.0." + p
        scale = stored[pre + ".weight_scale"].to(torch.float64)
        if pre + ".weight_packed" in stored:
            shape = stored[pre + ".weight_shape"].tolist()
            q = unpack_from_int32(stored[pre + ".weight_packed"], args.num_bits, torch.Size(shape)).to(torch.float64)
        else:
            q = stored[pre + ".weight"].to(torch.float64)
            shape = list(q.shape)
        n, k = shape
        zp = torch.zeros_like(scale)
        if pre + ".weight_zero_point" in stored:
            zp = unpack_from_int32(stored[pre + ".weight_zero_point"], args.num_bits, torch.Size([n, scale.shape[1]]), packed_dim=0).to(torch.float64)
        g = k // scale.shape[1]
        linears[pre] = ((q.reshape(n, -1, g) - zp.unsqueeze(-1)) * scale.unsqueeze(-1)).reshape(n, k)
    reference(folder, floats, linears)


# ---------- GPTQ and AWQ, packed from their definitions ----------
def to_int32(x):
    """int64 words in [0, 2^32) as the int32 tensors the formats store."""
    return ((x + 2**31) % 2**32 - 2**31).to(torch.int32)


def rtn_groups(w, groups, sym):
    """Per (group, output row) scale (fp16) and zero point for columns `groups[i]` of w [N, K]; levels q [K, N] in 0..15."""
    n, k = w.shape
    q = torch.zeros(k, n, dtype=torch.int64)
    scales = torch.zeros(len(groups), n, dtype=torch.float16)
    zeros = torch.zeros(len(groups), n, dtype=torch.int64)
    for gi, cols in enumerate(groups):
        block = w[:, cols].to(torch.float64)
        if sym:
            s = (block.abs().amax(1) / 7.5).to(torch.float16)
            z = torch.full((n,), 8, dtype=torch.int64)
        else:
            lo, hi = block.amin(1).clamp(max=0), block.amax(1).clamp(min=0)
            s = ((hi - lo) / 15).to(torch.float16)
            z = (-lo / s.to(torch.float64)).round().clamp(0, 15).to(torch.int64)
        levels = (block / s.to(torch.float64).unsqueeze(1)).round().to(torch.int64) + z.unsqueeze(1)
        q[cols, :] = levels.clamp(0, 15).T
        scales[gi], zeros[gi] = s, z
    return q, scales, zeros


def dequantized(q, scales, zeros, g_idx):
    """w [N, K] = scale[g_idx[k], n] * (q[k, n] - z[g_idx[k], n]) in float64."""
    s = scales.to(torch.float64)[g_idx]           # [K, N]
    z = zeros.to(torch.float64)[g_idx]
    return ((q.to(torch.float64) - z) * s).T.contiguous()


def pack_along_rows(v, order=range(8)):
    """[R, C] nibbles -> [R/8, C] words: row 8i + order[j] in bits 4j."""
    r, c = v.shape
    out = torch.zeros(r // 8, c, dtype=torch.int64)
    for j, src in enumerate(order):
        out |= (v[src::8, :] & 0xF) << (4 * j)
    return to_int32(out)


def pack_along_columns(v, order=range(8)):
    """[R, C] nibbles -> [R, C/8] words: column 8i + order[j] in bits 4j."""
    return pack_along_rows(v.T.contiguous(), order).T.contiguous()


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def gptq_awq_fixture(name, kind, group, sym, act_order=False, config_file="config.json"):
    folder = fresh(name)
    m = base_model(torch.float16)
    state = {k: v.contiguous() for k, v in m.state_dict().items() if k != "lm_head.weight"}
    floats = {k: v for k, v in state.items() if not any(k.startswith("model.layers.0." + p + ".") for p in LINEARS)}
    tensors, linears = dict(floats), {}
    gen = torch.Generator().manual_seed(5)
    for p in LINEARS:
        pre = "model.layers.0." + p
        w = state[pre + ".weight"].float()
        n, k = w.shape
        perm = torch.randperm(k, generator=gen) if act_order else torch.arange(k)
        groups = [perm[i:i + group] for i in range(0, k, group)]
        g_idx = torch.zeros(k, dtype=torch.int64)
        for gi, cols in enumerate(groups):
            g_idx[cols] = gi
        q, scales, zeros = rtn_groups(w, groups, sym)
        linears[pre] = dequantized(q, scales, zeros, g_idx)
        if kind == "gptq":
            tensors[pre + ".qweight"] = pack_along_rows(q)
            tensors[pre + ".qzeros"] = pack_along_columns((zeros - 1) & 0xF)   # v1: stored less one
            tensors[pre + ".g_idx"] = g_idx.to(torch.int32)
        else:
            tensors[pre + ".qweight"] = pack_along_columns(q, AWQ_ORDER)
            tensors[pre + ".qzeros"] = pack_along_columns(zeros, AWQ_ORDER)
        tensors[pre + ".scales"] = scales
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    m.config.save_pretrained(folder)
    if kind == "gptq":
        q = {"bits": 4, "group_size": group, "desc_act": act_order, "sym": sym, "true_sequential": True,
             "damp_percent": 0.01, "static_groups": False, "checkpoint_format": "gptq", "quant_method": "gptq"}
    else:
        q = {"quant_method": "awq", "bits": 4, "group_size": group, "zero_point": True, "version": "gemm"}
    if config_file == "config.json":
        c = json.load(open(os.path.join(folder, "config.json")))
        c["quantization_config"] = q
        json.dump(c, open(os.path.join(folder, "config.json"), "w"), indent=2, sort_keys=True)
    else:
        q.pop("quant_method")
        json.dump(q, open(os.path.join(folder, config_file), "w"), indent=2, sort_keys=True)
    copy_tokenizer(folder)
    reference(folder, floats, linears)


def main():
    os.makedirs(OUT, exist_ok=True)
    compressed_tensors_fixture("ct-int4-g128", dict(num_bits=4, type="int", symmetric=True, strategy="group", group_size=128))
    compressed_tensors_fixture("ct-int4-g32-asym", dict(num_bits=4, type="int", symmetric=False, strategy="group", group_size=32))
    compressed_tensors_fixture("ct-w8a8", dict(num_bits=8, type="int", symmetric=True, strategy="channel"),
                               activations=dict(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True))
    gptq_awq_fixture("gptq-g32-asym", "gptq", 32, sym=False)
    gptq_awq_fixture("gptq-g64-actorder", "gptq", 64, sym=True, act_order=True, config_file="quantize_config.json")
    gptq_awq_fixture("awq-g64", "awq", 64, sym=False)
    for name in sorted(os.listdir(OUT)):
        d = os.path.join(OUT, name)
        if os.path.isdir(d):
            print(name, sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)), "bytes")


if __name__ == "__main__":
    main()
