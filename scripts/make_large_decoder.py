#!/usr/bin/env python3
"""A random-weight decoder of TinyLlama-1.1B's shape, as a sharded bf16 Hugging Face folder.

For measuring Slim on a model of a real size (issue 16: time and peak memory of
`slim compress` at 11, 22 and 44 layers) without a model hub. Needs only numpy.

    python3 scripts/make_large_decoder.py OUT [--layers 22] [--shard-mb 500] [--seed 0]
        [--hidden 2048 --heads 32 --kv-heads 4 --intermediate 5632 --vocab 32000]

Default shape (TinyLlama-1.1B): hidden 2048, 32 heads, 4 KV heads, intermediate 5632,
vocab 32000, untied lm_head; weights N(0, 0.02) like transformers' default init,
norms 1 + N(0, 0.1). The tokenizer is the small byte-level BPE of the test
fixtures (Tests/Fixtures/decoders/llama3/tokenizer.json) with its vocabulary
padded to 32000 by tokens no text produces, so real text calibrates the model.
The weights are random: the figures this gives are time and memory, not quality.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def bf16(a):
    """float32 → bf16 bits, rounded to nearest even."""
    bits = a.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def tensors(layers, hidden, heads, kv, inter, vocab):
    d = hidden // heads
    yield "model.embed_tokens.weight", (vocab, hidden), "w"
    for i in range(layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (hidden,), "n"
        yield p + "self_attn.q_proj.weight", (heads * d, hidden), "w"
        yield p + "self_attn.k_proj.weight", (kv * d, hidden), "w"
        yield p + "self_attn.v_proj.weight", (kv * d, hidden), "w"
        yield p + "self_attn.o_proj.weight", (hidden, heads * d), "w"
        yield p + "post_attention_layernorm.weight", (hidden,), "n"
        yield p + "mlp.gate_proj.weight", (inter, hidden), "w"
        yield p + "mlp.up_proj.weight", (inter, hidden), "w"
        yield p + "mlp.down_proj.weight", (hidden, inter), "w"
    yield "model.norm.weight", (hidden,), "n"
    yield "lm_head.weight", (vocab, hidden), "w"


def write_shard(path, items):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, data in items:
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, _, data in items:
            f.write(data.tobytes())
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--shard-mb", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=5632)
    ap.add_argument("--vocab", type=int, default=32000)
    a = ap.parse_args()
    hidden, heads, kv, inter, vocab = a.hidden, a.heads, a.kv_heads, a.intermediate, a.vocab
    os.makedirs(a.out, exist_ok=False)
    rng = np.random.default_rng(a.seed)
    shards, current, size, weight_map, total = [], [], 0, {}, 0
    for name, shape, kind in tensors(a.layers, hidden, heads, kv, inter, vocab):
        values = rng.standard_normal(shape, dtype=np.float32)
        values = 1 + 0.1 * values if kind == "n" else 0.02 * values
        data = bf16(values)
        if current and size + data.nbytes > a.shard_mb * 1_000_000:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape, data))
        size += data.nbytes
        total += data.nbytes
    shards.append(current)
    n = len(shards)
    for k, items in enumerate(shards):
        file = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        write_shard(os.path.join(a.out, file), items)
        for name, _, _ in items:
            weight_map[name] = file
        print(f"{file}: {len(items)} tensors", file=sys.stderr)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": hidden, "num_hidden_layers": a.layers,
        "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": inter, "vocab_size": vocab,
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "bos_token_id": 0, "eos_token_id": 0,
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    fixture = os.path.join(HERE, "..", "Tests", "Fixtures", "decoders", "llama3")
    tok = json.load(open(os.path.join(fixture, "tokenizer.json")))
    vocab_map = tok["model"]["vocab"]
    used = set(vocab_map.values()) | {t["id"] for t in tok.get("added_tokens", [])}
    for i in range(vocab):
        if i not in used:
            vocab_map[f"<unused_{i}>"] = i
    with open(os.path.join(a.out, "tokenizer.json"), "w") as f:
        json.dump(tok, f)
    for extra in ["tokenizer_config.json"]:
        src = os.path.join(fixture, extra)
        if os.path.exists(src):
            with open(src) as s, open(os.path.join(a.out, extra), "w") as d:
                d.write(s.read())
    print(f"{a.out}: {a.layers} layers, {total / 1e9:.3f} GB bf16 in {n} shards", file=sys.stderr)


if __name__ == "__main__":
    main()
