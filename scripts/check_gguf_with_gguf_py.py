#!/usr/bin/env python3
"""Reads a GGUF file Slim wrote with llama.cpp's own `gguf` package (PyPI) and
compares it with what Slim says of it and with the Slim folder it came from.

    python scripts/check_gguf_with_gguf_py.py OUT.gguf --slim .build/release/slim [--folder SLIM_FOLDER]

1. Every tensor gguf-py lists (name, ggml type, shape, bytes) equals the one
   `slim inspect --json` lists, and the same tensors are listed.
2. Every metadata key `slim inspect` shows has the value gguf-py reads.
3. With --folder (the Slim folder the GGUF was exported from, e.g. written by
   `slim compress -o FOLDER` with the same options): every packed weight's
   blocks are byte for byte the folder's `.qdata`, the llama architecture's
   query/key rows reordered here independently (HF halves -> interleaved
   pairs, as convert_hf_to_gguf.py's LlamaModel.permute), and every float
   tensor equals the folder's after rounding to the GGUF type.
Not a test CI runs (CI has no Python): a check whose output goes in a report.
"""
import argparse
import hashlib
import json
import subprocess
import sys

import numpy as np
import gguf
from safetensors.numpy import load_file

GGML_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 12: "q4_K", 14: "q6_K"}


def field_value(field):
    """A metadata field as a Python value (lists for arrays)."""
    types = field.types
    if types[0] == gguf.GGUFValueType.ARRAY:
        if types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        return [field.parts[i].tolist()[0] for i in field.data]
    part = field.parts[field.data[0]]
    if types[0] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    return part.tolist()[0]


def interleave(rows: np.ndarray, heads: int) -> np.ndarray:
    """LlamaModel.permute on the first axis of rows of any byte width."""
    n = rows.shape[0]
    return rows.reshape(heads, 2, n // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf_file")
    ap.add_argument("--slim", required=True, help="the slim executable")
    ap.add_argument("--folder", help="the Slim folder the file was exported from")
    args = ap.parse_args()

    reader = gguf.GGUFReader(args.gguf_file)
    report = json.loads(subprocess.run([args.slim, "inspect", args.gguf_file, "--json"], check=True,
                                       capture_output=True, text=True).stdout)
    failures = []

    # 1. tensors
    theirs = {t.name: t for t in reader.tensors}
    ours = {t["name"]: t for t in report["tensors"]}
    if set(theirs) != set(ours):
        failures.append(f"tensor names differ: only gguf-py {sorted(set(theirs) - set(ours))[:5]}, only Slim {sorted(set(ours) - set(theirs))[:5]}")
    for name in sorted(set(theirs) & set(ours)):
        t, o = theirs[name], ours[name]
        shape = [int(d) for d in reversed(t.shape.tolist())]
        kind = GGML_NAMES.get(int(t.tensor_type), str(t.tensor_type))
        if (kind, shape, int(t.n_bytes)) != (o["dtype"], o["shape"], o["bytes"]):
            failures.append(f"{name}: gguf-py {kind} {shape} {t.n_bytes} B, Slim {o['dtype']} {o['shape']} {o['bytes']} B")
    print(f"tensors: {len(theirs)} read by gguf-py, {len(ours)} listed by slim inspect")

    # 2. metadata
    fields = {k: field_value(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    for key, value in report["config"].items():
        got = fields.get(key)
        if isinstance(got, list) and isinstance(value, int):
            got = len(got)  # slim inspect shows an array by its length
        if isinstance(got, float) or isinstance(value, float):
            ok = got is not None and abs(float(got) - float(value)) <= 1e-6 * max(1.0, abs(float(value)))
        else:
            ok = got == value
        if not ok:
            failures.append(f"key {key}: gguf-py {got!r}, Slim {value!r}")
    print(f"metadata: {len(fields)} keys read by gguf-py; {len(report['config'])} shown by slim inspect compared")
    for key in ["general.architecture", "general.name", "general.quantized_by", "general.file_type", "general.alignment",
                "slim.method", "slim.format", "slim.calibration", "tokenizer.ggml.model", "tokenizer.ggml.pre"]:
        if key in fields:
            print(f"  {key} = {fields[key]!r}")

    # 3. against the folder
    if args.folder:
        with open(f"{args.folder}/config.json") as f:
            config = json.load(f)
        layers = config.get("quantization_config", {}).get("layers", {})
        tensors = {}
        import glob
        for path in sorted(glob.glob(f"{args.folder}/*.safetensors")):
            tensors.update(load_file(path))
        arch = fields["general.architecture"]
        heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
        hf_to_gguf = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                      "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                      "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}

        def gguf_name(hf: str) -> str:
            top = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                   "lm_head.weight": "output.weight"}
            if hf in top:
                return top[hf]
            parts = hf.split(".")
            block, rest, suffix = parts[2], ".".join(parts[3:-1]), parts[-1]
            return f"blk.{block}.{hf_to_gguf[rest]}.{suffix}"

        compared = 0
        for name, fmt in layers.items():
            blocks = tensors[name + ".qdata"]
            if arch == "llama" and (".q_proj." in name or ".k_proj." in name):
                blocks = interleave(blocks, heads if ".q_proj." in name else kv)
            got = theirs[gguf_name(name)].data
            if hashlib.sha256(np.ascontiguousarray(got).tobytes()).digest() != hashlib.sha256(blocks.tobytes()).digest():
                failures.append(f"{gguf_name(name)}: blocks differ from {name}.qdata")
            compared += 1
        for name, value in tensors.items():
            if name.endswith((".qdata", ".scales", ".zeros")):
                continue
            t = theirs[gguf_name(name)]
            want = value.astype(np.float32)
            if arch == "llama" and (".q_proj." in name or ".k_proj." in name):
                want = interleave(want, heads if ".q_proj." in name else kv)
            want = want.astype(np.float16 if int(t.tensor_type) == 1 else np.float32)
            if not np.array_equal(np.asarray(t.data).reshape(want.shape), want):
                failures.append(f"{t.name}: values differ from {name}")
            compared += 1
        print(f"folder: {compared} tensors compared with {args.folder} ({len(layers)} packed byte for byte)")

    for f in failures[:20]:
        print("FAIL", f)
    print("OK" if not failures else f"{len(failures)} differences")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
