#!/usr/bin/env python3
"""Reference decoders of every family Slim runs, built by `transformers` itself (issue #16, Tests).

What it makes, under Tests/Fixtures/decoders/NAME/ (one folder per case):
  - a random-initialised tiny model of the family's transformers class (LlamaForCausalLM,
    MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GemmaForCausalLM, Phi3ForCausalLM),
    written by `save_pretrained(max_shard_size=...)` as several safetensors shards plus
    `model.safetensors.index.json`, in bf16 (fp16 for `llama-linear`);
  - `tokenizer.json` + `tokenizer_config.json`: one small byte-level BPE (GPT-2 / SmolLM2 style,
    ByteLevel pre-tokenizer without prefix space, ByteLevel decoder) trained by the `tokenizers`
    library on /usr/share/games/fortunes/wisdom (Debian package fortunes-min); the same in every folder;
  - `reference.json`: `token_ids` (a fixed text encoded by that tokenizer) and `nll`, the per-position
    -log p(token[t+1] | tokens <= t) of the model LOADED BACK from the saved shards with
    dtype=torch.float32 and attn_implementation="eager" (fp32 arithmetic on the stored 16-bit weights),
    plus model_type, dtype, library versions, the code path transformers takes, and `sensitivity`:
    the mean |dNLL| when the model is mutated (rotary rule changed, a norm weight reset, a bias
    zeroed, ...). The script fails unless every required mutation moves the mean NLL by > 0.05 nats,
    so a Slim test at 5e-3 / 1e-3 nats cannot pass with that mistake.

Weights are drawn with a large std (not transformers' 0.02, which gives near-uniform logits where
a wrong rotary rule hardly shows); every norm weight is drawn away from 1 (Gemma: away from 0, it
is used as 1 + w) and every bias away from 0.

config.json: transformers 5 writes the rotary settings as `rope_parameters` (with rope_theta inside).
Checkpoints on the Hub written by transformers 4 (Llama 3.x, Qwen2.5, Mistral ...) carry
`rope_scaling` and a top-level `rope_theta` instead. The `llama3` and `qwen2` folders are rewritten into
that legacy form (as Meta's and Qwen's checkpoints are); the script checks that transformers reads
the rewritten config to the same NLL, bit for bit. The other folders keep what save_pretrained wrote.

How to run (deterministic: fixed seeds; CPU only):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers   # tokenizers, safetensors come with it
    /tmp/venv/bin/python scripts/make_decoder_fixtures.py            # writes Tests/Fixtures/decoders/
    /tmp/venv/bin/python scripts/make_decoder_fixtures.py --out DIR  # elsewhere
Produced for the repository with torch 2.15.0 and transformers 5.25.0 (tokenizers 0.23.3); the versions
are recorded in every reference.json. Then update the table in Tests/Fixtures/README.md
(bytes and sha256 of each reference.json).
"""
import argparse
import copy
import hashlib
import json
import math
import os
import shutil
import sys

import torch
import transformers
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = "/usr/share/games/fortunes/wisdom"
VOCAB = 320  # 256 bytes + 61 merges + 3 specials
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The text scored (from the same corpus, so the merges apply); cut to N_TOKENS ids.
TEXT = ("The only way to keep your health is to eat what you don't want, drink what you don't like, "
        "and do what you'd rather not. -- Mark Twain. Wisdom is the principal thing; therefore get wisdom: "
        "and with all thy getting get understanding.")
N_TOKENS = 80
MAX_SHARD = "64KB"
MIN_DELTA = 0.05
EMBED_STD, LINEAR_STD = 0.2, 0.15


def make_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train([CORPUS], trainer)
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return tok


def write_tokenizer(tok, folder):
    tok.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": None,
                   "add_bos_token": False, "model_max_length": 256,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)


# ---- the cases -------------------------------------------------------------------------------

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=0, pad_token_id=None)

CASES = {
    # Llama 3.x rotary: theta 10000, head_dim 24 -> 12 frequencies with wavelengths 6.3, 13.5, 29.2, 62.8, ...
    # original_max_position_embeddings 32, low_freq_factor 0.5, high_freq_factor 4 -> bands at wavelength
    # 8 and 64: 1 frequency unscaled (< 8), 3 smoothly interpolated (8..64), 8 divided by factor (> 64).
    "llama3": dict(cls="LlamaForCausalLM", dtype=torch.bfloat16, legacy_config=True,
                   config=dict(COMMON, head_dim=24, num_hidden_layers=3, intermediate_size=112,
                               tie_word_embeddings=False,
                               rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0,
                                                "low_freq_factor": 0.5, "high_freq_factor": 4.0,
                                                "original_max_position_embeddings": 32})),
    "llama-linear": dict(cls="LlamaForCausalLM", dtype=torch.float16,
                         config=dict(COMMON, tie_word_embeddings=True,
                                     rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0})),
    "mistral": dict(cls="MistralForCausalLM", dtype=torch.bfloat16,
                    config=dict(COMMON, tie_word_embeddings=False, sliding_window=128, head_dim=16,
                                rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "qwen2": dict(cls="Qwen2ForCausalLM", dtype=torch.bfloat16, legacy_config=True,
                  config=dict(COMMON, tie_word_embeddings=True, use_sliding_window=False,
                              rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "qwen3": dict(cls="Qwen3ForCausalLM", dtype=torch.bfloat16,
                  config=dict(COMMON, tie_word_embeddings=True, head_dim=24, attention_bias=False,
                              use_sliding_window=False,
                              rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "gemma": dict(cls="GemmaForCausalLM", dtype=torch.bfloat16,
                  config=dict(COMMON, tie_word_embeddings=True, head_dim=24, hidden_activation="gelu_pytorch_tanh",
                              rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
    "phi3": dict(cls="Phi3ForCausalLM", dtype=torch.bfloat16,
                 config=dict(COMMON, tie_word_embeddings=False, original_max_position_embeddings=256,
                             rope_parameters={"rope_type": "default", "rope_theta": 10000.0})),
}

# What transformers does for each family (written into reference.json as `code_path`).
CODE_PATH = {
    "llama3": "LlamaForCausalLM, eager attention; LlamaRotaryEmbedding with _compute_llama3_parameters (rope_type llama3); "
              "GQA 4 query heads / 2 KV heads; head_dim 24 != hidden/heads; untied lm_head; rotate_half (NeoX) rotary layout; "
              "rotary bands (wavelength 2*pi/inv_freq vs original_max_position_embeddings 32 / high_freq_factor 4 = 8 and "
              "32 / low_freq_factor 0.5 = 64): frequency 0 unscaled (6.3), 1-3 smoothly interpolated (13.5, 29.2, 62.8), "
              "4-11 divided by factor 4; the sequence (80) is longer than 32",
    "llama-linear": "LlamaForCausalLM, eager; _compute_linear_scaling_rope_parameters (inv_freq / factor); lm_head tied to "
                    "embed_tokens (no lm_head tensor stored); fp16 weights",
    "mistral": "MistralForCausalLM, eager; sliding_window 128 > sequence length, so the sliding-window mask equals the causal "
               "mask (the window is inactive for this fixture); head_dim 16",
    "qwen2": "Qwen2ForCausalLM, eager; q/k/v projections with bias, o_proj without; use_sliding_window false (all layers "
             "full_attention); lm_head tied",
    "qwen3": "Qwen3ForCausalLM, eager; per-head RMSNorm q_norm/k_norm (weight over head_dim) applied after the projection "
             "and before rotary; no attention bias; head_dim 24 != hidden/heads; lm_head tied",
    "gemma": "GemmaForCausalLM, eager; GemmaRMSNorm computes x * (1 + w) in fp32; MLP gelu_pytorch_tanh(gate) * up; "
             "embeddings multiplied by sqrt(hidden_size) = 8 (in the activation dtype); head_dim 24; lm_head tied",
    "phi3": "Phi3ForCausalLM, eager; fused qkv_proj (rows: q, then k, then v) and gate_up_proj (rows: gate, then up); "
            "rope_type default (no rope_scaling, no LongRoPE); partial_rotary_factor 1; untied lm_head",
}


def init_weights(model, family, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:  # every RMSNorm (input, post-attention, final, q_norm, k_norm)
                if family == "gemma":  # used as 1 + w: away from 0
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3 + 0.2)
                else:  # away from 1
                    p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.3)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.4)
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(torch.randn(p.shape, generator=g) * EMBED_STD)
            else:  # linears: std 0.25
                p.copy_(torch.randn(p.shape, generator=g) * LINEAR_STD)


def nll_of(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    return [-logp[t, ids[t + 1]].item() for t in range(len(ids) - 1)]


def load(folder, **config_overrides):
    cfg = transformers.AutoConfig.from_pretrained(folder)
    for k, v in config_overrides.items():
        setattr(cfg, k, v)
    m = transformers.AutoModelForCausalLM.from_pretrained(folder, config=cfg, dtype=torch.float32,
                                                          attn_implementation="eager")
    m.eval()
    return m


def legacy_config(folder):
    """Rewrites config.json into the transformers-4 form of Hub checkpoints: rope_theta at the top,
    rope_scaling (without rope_theta) for a scaled rotary, no rope_parameters."""
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    c["rope_theta"] = rp.pop("rope_theta")
    c["rope_scaling"] = None if rp.get("rope_type", "default") == "default" else rp
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def mutations(name, folder, base_cfg):
    """(label, required, function returning a mutated fp32 model) for the case."""
    rp = copy.deepcopy(base_cfg.rope_parameters)
    out = []

    def with_rope(**changes):
        def make():
            r = dict(rp, **changes)
            return load(folder, rope_parameters=r)
        return make

    def with_weight(pattern, fn):
        def make():
            m = load(folder)
            with torch.no_grad():
                hits = [p for n, p in m.named_parameters() if n == pattern]
                assert len(hits) == 1, (pattern, [n for n, _ in m.named_parameters()])
                fn(hits[0])
            return m
        return make

    out.append(("rope_theta x2", True, with_rope(rope_theta=rp["rope_theta"] * 2)))
    if name == "llama3":
        out.append(("llama3 scaling dropped (rope_type default)", True,
                    lambda: load(folder, rope_parameters={"rope_type": "default", "rope_theta": rp["rope_theta"]})))
        out.append(("llama3 read as linear scaling (same factor)", True,
                    lambda: load(folder, rope_parameters={"rope_type": "linear", "rope_theta": rp["rope_theta"],
                                                          "factor": rp["factor"]})))
        out.append(("llama3 smooth band dropped (high_freq_factor = low_freq_factor + tiny)", True,
                    with_rope(high_freq_factor=rp["low_freq_factor"] + 1e-6)))
    if name == "llama-linear":
        out.append(("linear scaling dropped (rope_type default)", True,
                    lambda: load(folder, rope_parameters={"rope_type": "default", "rope_theta": rp["rope_theta"]})))
    # The GPT-J (interleaved) rotary layout instead of rotate_half: permute q/k rows of every head.
    out.append(("rotary pairs interleaved (GPT-J layout) instead of rotate_half", True, interleaved(folder, name)))
    reset = 0.0 if name == "gemma" else 1.0
    out.append((f"layer 0 input_layernorm weight set to {reset:g}", True,
                with_weight("model.layers.0.input_layernorm.weight", lambda p: p.fill_(reset))))
    out.append((f"final norm weight set to {reset:g}", True, with_weight("model.norm.weight", lambda p: p.fill_(reset))))
    if name == "gemma":
        out.append(("RMSNorm weight used as w instead of 1 + w (every norm)", True, gemma_plain_norm(folder)))
        out.append(("embeddings not scaled by sqrt(hidden)", True, gemma_unscaled(folder)))
        out.append(("exact gelu instead of gelu_pytorch_tanh", False,
                    lambda: load(folder, hidden_activation="gelu", hidden_act="gelu")))
    if name == "qwen2":
        for proj in ("q", "k", "v"):
            out.append((f"layer 0 {proj}_proj bias zeroed", True,
                        with_weight(f"model.layers.0.self_attn.{proj}_proj.bias", lambda p: p.zero_())))
    if name == "qwen3":
        for which in ("q_norm", "k_norm"):
            out.append((f"layer 0 {which} weight set to 1", True,
                        with_weight(f"model.layers.0.self_attn.{which}.weight", lambda p: p.fill_(1.0))))
    if name == "phi3":
        def swap_halves(p):
            h = p.shape[0] // 2
            p.copy_(torch.cat([p[h:], p[:h]]))
        out.append(("layer 0 gate_up_proj halves swapped (up, gate)", True,
                    with_weight("model.layers.0.mlp.gate_up_proj.weight", swap_halves)))
        def swap_qk(p):
            c = base_cfg
            d = c.hidden_size // c.num_attention_heads
            q, k = c.num_attention_heads * d, c.num_key_value_heads * d
            p.copy_(torch.cat([p[q:q + k], p[k:q], p[:k], p[q + k:]]))  # first k rows of q <-> k
        out.append(("layer 0 qkv_proj: k rows read from the start of q", True,
                    with_weight("model.layers.0.self_attn.qkv_proj.weight", swap_qk)))
    return out


def interleaved(folder, name):
    def make():
        m = load(folder)
        c = m.config
        d = c.head_dim if getattr(c, "head_dim", None) else c.hidden_size // c.num_attention_heads
        # rotate_half pairs (i, i + d/2); reading the rows as interleaved pairs (2i, 2i+1) = permuting them.
        perm = torch.tensor([j for i in range(d // 2) for j in (i, i + d // 2)])
        with torch.no_grad():
            for layer in m.model.layers:
                a = layer.self_attn
                if name == "phi3":
                    w = a.qkv_proj.weight
                    nq, nk = c.num_attention_heads * d, c.num_key_value_heads * d
                    for start, heads in ((0, c.num_attention_heads), (nq, c.num_key_value_heads)):
                        for h in range(heads):
                            s = start + h * d
                            w[s:s + d] = w[s:s + d][perm]
                    continue
                for proj, heads in ((a.q_proj, c.num_attention_heads), (a.k_proj, c.num_key_value_heads)):
                    for h in range(heads):
                        s = h * d
                        proj.weight[s:s + d] = proj.weight[s:s + d][perm]
                        if proj.bias is not None:
                            proj.bias[s:s + d] = proj.bias[s:s + d][perm]
                for nm in ("q_norm", "k_norm"):
                    if hasattr(a, nm):
                        getattr(a, nm).weight.copy_(getattr(a, nm).weight[perm])
        return m
    return make


def gemma_plain_norm(folder):
    def make():
        m = load(folder)
        with torch.no_grad():
            for n, p in m.named_parameters():
                if "norm" in n:
                    p.sub_(1.0)  # 1 + (w - 1) = w: what a reader applying w alone computes
        return m
    return make


def gemma_unscaled(folder):
    def make():
        m = load(folder)
        scale = m.config.hidden_size ** 0.5
        m.model.embed_tokens.register_forward_hook(lambda mod, inp, out: out / scale)
        return m
    return make


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "decoders"))
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    args = ap.parse_args()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # sums in one fixed order

    tok = make_tokenizer()
    ids = tok.encode(TEXT).ids
    assert len(ids) >= N_TOKENS, len(ids)
    ids = ids[:N_TOKENS]
    os.makedirs(args.out, exist_ok=True)
    summary = []
    for index, (name, case) in enumerate(CASES.items()):
        if args.only and name not in args.only:
            continue
        folder = os.path.join(args.out, name)
        shutil.rmtree(folder, ignore_errors=True)
        cls = getattr(transformers, case["cls"])
        cfg = cls.config_class(**case["config"])
        torch.manual_seed(1000 + index)
        model = cls(cfg)
        init_weights(model, name, seed=1000 + index)
        model.to(case["dtype"])
        model.save_pretrained(folder, max_shard_size=MAX_SHARD)
        write_tokenizer(tok, folder)
        shards = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
        assert len(shards) >= 2 and os.path.exists(os.path.join(folder, "model.safetensors.index.json")), shards
        if case.get("legacy_config"):
            before = nll_of(load(folder), ids)
            legacy_config(folder)
            after = nll_of(load(folder), ids)
            assert before == after, "the legacy config reads differently"

        ref_model = load(folder)
        assert ref_model.config._attn_implementation == "eager"
        nll = nll_of(ref_model, ids)
        base_cfg = ref_model.config
        sensitivity = []
        for label, required, make in mutations(name, folder, base_cfg):
            other = nll_of(make(), ids)
            d = [abs(a - b) for a, b in zip(nll, other)]
            mean = sum(d) / len(d)
            sensitivity.append({"mutation": label, "mean_abs_delta_nll": round(mean, 6),
                                "max_abs_delta_nll": round(max(d), 6), "required": required})
            print(f"  {name}: {label}: mean |dNLL| {mean:.4f} max {max(d):.4f}")
            if required and mean <= MIN_DELTA:
                sys.exit(f"{name}: mutation '{label}' moves the NLL by only {mean:.4f} <= {MIN_DELTA}: not sensitive")
        with open(os.path.join(folder, "config.json")) as f:
            stored = json.load(f)
        ref = {
            "model_type": stored["model_type"],
            "architecture": case["cls"],
            "dtype": str(case["dtype"]).replace("torch.", ""),
            "config_format": ("transformers 4 / Hub legacy: rope_theta top-level, rope_scaling" if case.get("legacy_config")
                              else "transformers 5: rope_parameters (rope_type, rope_theta, ...)"),
            "shards": shards,
            "code_path": CODE_PATH[name],
            "evaluated_as": "AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='eager'), "
                            "one sequence, no BOS added; nll[t] = -log_softmax(logits[t])[token_ids[t+1]] in float64",
            "text": tok.decode(ids),
            "token_ids": ids,
            "nll": [round(x, 7) for x in nll],
            "mean_nll": round(sum(nll) / len(nll), 7),
            "sensitivity": sensitivity,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "produced_by": "scripts/make_decoder_fixtures.py",
        }
        with open(os.path.join(folder, "reference.json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        summary.append((name, folder_bytes(folder), len(shards), ref["mean_nll"]))
        print(f"{name}: {len(shards)} shards, {folder_bytes(folder)} bytes, mean NLL {ref['mean_nll']:.4f}")
    for row in summary:
        print(*row)


if __name__ == "__main__":
    main()
