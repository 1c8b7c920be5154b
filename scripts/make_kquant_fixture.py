#!/usr/bin/env python3
"""Builds Tests/Fixtures/kquants/: Q4_K and Q6_K super-blocks and Q5_0 and Q5_1
blocks made by llama.cpp's own reference quantizers, with their dequantization
by the `gguf` package.

    scripts/make_kquant_fixture.py --llama-cpp DIR [--out Tests/Fixtures/kquants]

DIR is a llama.cpp source tree (its `ggml/` folder is enough), e.g. the one
vendored in llama-cpp-python's sdist from PyPI (`vendor/llama.cpp`). This
script compiles `ggml/src/ggml-quants.c` with a small driver into a scratch
folder and runs `quantize_row_q4_K_ref` / `quantize_row_q6_K_ref` /
`quantize_row_q5_0_ref` / `quantize_row_q5_1_ref` on fixed
inputs; the tool itself is never committed. It is compiled with
`-ffp-contract=off`, so its fp32 arithmetic is rounded operation by operation,
as in Slim's Swift (a build that fuses multiply-adds can differ in rare ties).

Outputs (all little-endian):
  inputs.f32          ROWS x K float32 weights (deterministic, see `inputs()`)
  q4_k.bin, q6_k.bin  llama.cpp's blocks of those rows (ROWS x K/256 super-blocks)
  q5_0.bin, q5_1.bin  the same for Q5_0 / Q5_1 (ROWS x K/32 blocks)
  *.f32               gguf.quants.dequantize of those blocks (the `gguf` package)
  manifest.json       shapes, versions and sha256 of every file
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import pathlib
import subprocess
import tempfile

import numpy as np
from gguf import GGMLQuantizationType, quants

K = 512
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ggml.h"
#include "ggml-quants.h"
#include "ggml-common.h"
void ggml_abort(const char *file, int line, const char *fmt, ...) { (void)fmt; fprintf(stderr, "abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(enum ggml_type t, int64_t n) { (void)t; (void)n; abort(); }
size_t ggml_type_size(enum ggml_type t) { (void)t; abort(); }
const char *ggml_type_name(enum ggml_type t) { (void)t; abort(); }
int main(int argc, char **argv) {
    if (argc != 4) return 1;
    int type = atoi(argv[1]); long k = atol(argv[2]), rows = atol(argv[3]);
    float *x = malloc(sizeof(float) * k * rows);
    if (fread(x, sizeof(float), k * rows, stdin) != (size_t)(k * rows)) return 2;
    size_t bytes = type == 12 ? sizeof(block_q4_K) * (k / QK_K) * rows
                 : type == 14 ? sizeof(block_q6_K) * (k / QK_K) * rows
                 : type == 6 ? sizeof(block_q5_0) * (k / QK5_0) * rows
                 : sizeof(block_q5_1) * (k / QK5_1) * rows;
    void *y = malloc(bytes);
    if (type == 12) quantize_row_q4_K_ref(x, y, k * rows);
    else if (type == 14) quantize_row_q6_K_ref(x, y, k * rows);
    else if (type == 6) quantize_row_q5_0_ref(x, y, k * rows);
    else quantize_row_q5_1_ref(x, y, k * rows);
    fwrite(y, 1, bytes, stdout);
    return 0;
}
"""


def inputs() -> np.ndarray:
    """Rows that reach the quantizers' branches: gaussian, heavy-tailed, all
    positive (Q4_K's minimum clamped to 0), an outlier, a constant run, an
    all-zero super-block and sub-block, tiny values, exact grid points."""
    rng = np.random.default_rng(20261207)
    rows = [
        rng.standard_normal(K),
        rng.standard_t(2, K) * 0.05,
        rng.uniform(0.5, 2.0, K),
        np.concatenate([rng.standard_normal(K - 1) * 0.01, [3.0]]),
        np.concatenate([np.full(256, -0.75), rng.standard_normal(256)]),
        np.concatenate([np.zeros(256), rng.standard_normal(256)]),
        np.concatenate([rng.standard_normal(240), np.zeros(16), rng.standard_normal(256) * 1e-3]),
        rng.standard_normal(K) * 1e-6,
        np.tile(np.arange(-8, 8, dtype=np.float64) * 0.125, K // 16),
    ]
    return np.stack(rows).astype(np.float32)


def build_tool(llama: pathlib.Path, scratch: pathlib.Path) -> pathlib.Path:
    ggml = llama / "ggml"
    (scratch / "driver.c").write_text(DRIVER)
    flags = ["-O2", "-ffp-contract=off", f"-I{ggml / 'include'}", f"-I{ggml / 'src'}"]
    subprocess.run(["cc", *flags, "-c", str(ggml / "src" / "ggml-quants.c"), "-o", str(scratch / "q.o")], check=True,
                   stderr=subprocess.DEVNULL)
    tool = scratch / "refq"
    subprocess.run(["cc", *flags, str(scratch / "driver.c"), str(scratch / "q.o"), "-o", str(tool), "-lm"], check=True)
    return tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llama-cpp", required=True, type=pathlib.Path)
    parser.add_argument("--source-label", default="", help="where DIR came from, for the manifest "
                        "(e.g. 'llama-cpp-python 0.3.36 sdist, vendor/llama.cpp')")
    parser.add_argument("--out", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "kquants")
    args = parser.parse_args()
    x = inputs()
    rows = x.shape[0]
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"inputs.f32": x.tobytes()}
    with tempfile.TemporaryDirectory() as scratch:
        tool = build_tool(args.llama_cpp, pathlib.Path(scratch))
        for name, ggml_type, qtype in (("q4_k", 12, GGMLQuantizationType.Q4_K), ("q6_k", 14, GGMLQuantizationType.Q6_K),
                                       ("q5_0", 6, GGMLQuantizationType.Q5_0), ("q5_1", 7, GGMLQuantizationType.Q5_1)):
            blocks = subprocess.run([str(tool), str(ggml_type), str(K), str(rows)], input=x.tobytes(),
                                    capture_output=True, check=True).stdout
            decoded = quants.dequantize(np.frombuffer(blocks, np.uint8).reshape(rows, -1), qtype).astype(np.float32)
            files[f"{name}.bin"] = blocks
            files[f"{name}.f32"] = decoded.tobytes()
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    version_file = args.llama_cpp / "ggml" / "src" / "ggml-quants.c"
    manifest = {
        "rows": rows, "columns": K,
        "produced_by": "scripts/make_kquant_fixture.py: llama.cpp quantize_row_q4_K_ref / quantize_row_q6_K_ref / "
                       "quantize_row_q5_0_ref / quantize_row_q5_1_ref "
                       "(ggml-quants.c compiled with -O2 -ffp-contract=off), gguf.quants.dequantize",
        "llama_cpp_ggml_quants_c_sha256": hashlib.sha256(version_file.read_bytes()).hexdigest(),
        "llama_cpp_source": args.source_label or os.fspath(args.llama_cpp),
        "gguf": importlib.metadata.version("gguf"), "numpy": np.__version__,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
